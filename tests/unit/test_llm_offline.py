"""The offline provider's matching over a small knowledge base, for the
English, Portuguese and Spanish customers WhatsApp brings."""
from __future__ import annotations

import pytest

from python_services.llm.offline import best_match, content_words, fold

ENGLISH = [
    {"question": "What are your opening hours?", "answer": "hours"},
    {"question": "Do you deliver?", "answer": "delivery"},
    {"question": "Which payment methods do you accept?", "answer": "payment"},
]
PORTUGUESE = [
    {"question": "Quais são os horários de funcionamento?", "answer": "hours"},
    {"question": "Quanto custa a entrega?", "answer": "delivery"},
    {"question": "Vocês aceitam Pix ou cartão?", "answer": "payment"},
    {"question": "Oi", "answer": "greeting"},
]
SPANISH = [
    {"question": "¿Cuál es el horario de atención?", "answer": "hours"},
    {"question": "¿Hacen envíos a domicilio?", "answer": "delivery"},
    {"question": "¿Aceptan tarjeta de crédito?", "answer": "payment"},
]


@pytest.mark.parametrize("knowledge_base, message, answer", [
    (ENGLISH, "hi! when are you open today?", "hours"),
    (ENGLISH, "Can you deliver to my place?", "delivery"),
    (ENGLISH, "Do you accept credit cards as payment?", "payment"),
    (PORTUGUESE, "Oi, qual o horário de vocês?", "hours"),
    (PORTUGUESE, "QUE HORAS VOCÊS ABREM? funcionamento sábado", "hours"),
    (PORTUGUESE, "qual o valor da entrega pra zona sul?", "delivery"),
    (PORTUGUESE, "posso pagar com pix?", "payment"),
    (PORTUGUESE, "Oi!", "greeting"),
    (SPANISH, "Hola, ¿qué horario tienen?", "hours"),
    (SPANISH, "¿hacen envios al centro?", "delivery"),
    (SPANISH, "puedo pagar con TARJETA", "payment"),
])
def test_a_customer_question_finds_its_answer(knowledge_base, message, answer):
    match = best_match(knowledge_base, message)
    assert match is not None and match.answer == answer


@pytest.mark.parametrize("knowledge_base, message", [
    (ENGLISH, "I want to return a broken phone"),
    (ENGLISH, "ok"),
    (PORTUGUESE, "Quero falar sobre meu pedido atrasado"),
    (PORTUGUESE, "👍"),
    (SPANISH, "¿Dónde está mi paquete?"),
    (SPANISH, ""),
])
def test_nothing_close_enough_is_no_match(knowledge_base, message):
    assert best_match(knowledge_base, message) is None


def test_accents_and_case_are_folded():
    assert fold("Horário ATENCIÓN Pão") == "horario atencion pao"


def test_little_words_of_three_languages_are_ignored():
    assert content_words("What are your hours? Quais são os horários? ¿Cuál es el horario?") == ["hour", "horario"]


def test_an_empty_or_malformed_knowledge_base_matches_nothing():
    assert best_match([], "opening hours") is None
    assert best_match([{"question": "hours"}, "junk", {"answer": "x"}], "opening hours") is None


def test_the_better_covered_question_wins():
    kb = [{"question": "delivery", "answer": "short"}, {"question": "delivery fee price", "answer": "long"}]
    assert best_match(kb, "what is the delivery fee price").answer == "long"
