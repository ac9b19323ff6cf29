"""The knowledge base's text helpers (core/knowledge.py): folding, the words a
question is about, trigram similarity as pg_trgm computes it, passages, and
the prompt's section (llm/prompt.py)."""
from __future__ import annotations

import pytest

from python_services.core.knowledge_text import (Hit, fold, passage, question_words, trigram_similarity,
                                            tsquery_literal)
from python_services.llm.prompt import HANDOFF_MARKER, NO_KNOWLEDGE_RULE, knowledge_section


def test_accents_and_case_are_folded():
    assert fold("Horário ATENCIÓN Pão Ñandú") == "horario atencion pao nandu"


def test_the_little_words_of_three_languages_are_left_out_of_a_question():
    assert question_words("What are your hours? Quais são os horários? ¿Cuál es el horario?") == [
        "hours", "horarios", "horario"]


def test_a_question_made_only_of_little_words_keeps_them():
    assert question_words("Oi!") == ["oi"]
    assert question_words("👍") == []


@pytest.mark.parametrize("a, b, expected", [
    ("word", "word", 1.0), ("word", "words", 4 / 7), ("funsionamento", "funcionamento", 11 / 17), ("abc", "xyz", 0.0),
])
def test_trigram_similarity_is_pg_trgms(a, b, expected):
    assert trigram_similarity(a, b) == pytest.approx(expected)


def test_a_lexeme_is_quoted_for_a_tsquery():
    assert tsquery_literal("d'agua\\") == "'d''agua\\\\'"


def test_a_short_content_is_its_own_passage():
    assert passage("Abrimos às 9h.", ["abr"], 100) == "Abrimos às 9h."


def test_a_long_content_gives_the_sentences_around_the_matched_words():
    content = ("Somos uma loja de calçados fundada em 1990 no centro. " * 3 + "As trocas são grátis em até 30 dias. "
               + "Temos estacionamento conveniado ao lado. " * 3)
    cut = passage(content, ["troc"], 90)
    assert "As trocas são grátis em até 30 dias." in cut and len(cut) <= 90
    assert cut.startswith("…") and cut.endswith("…")


def test_one_long_sentence_is_cut_around_its_first_matched_word():
    content = "palavra " * 60 + "o frete é grátis acima de R$ 299 " + "palavra " * 60
    cut = passage(content, ["frete"], 80)
    assert "frete" in cut and len(cut) <= 80


def hit(title, content, score=1.0):
    return Hit(id="x", title=title, content=content, tags=(), source=None, score=score, coverage=1.0,
               title_coverage=1.0, lexemes=("troc",))


def test_the_prompt_gives_the_entries_found_and_the_rule_to_answer_facts_from_them_only():
    section = knowledge_section(True, [hit("Trocas", "Em até 30 dias."), hit("Frete", "Grátis acima de R$ 299.")],
                                4000)
    assert "[1] Trocas\nEm até 30 dias." in section and "[2] Frete\nGrátis acima de R$ 299." in section
    assert "only from these entries" in section and HANDOFF_MARKER in section


def test_the_prompt_says_so_when_nothing_matches_and_says_nothing_without_a_knowledge_base():
    assert knowledge_section(True, [], 4000) == NO_KNOWLEDGE_RULE
    assert knowledge_section(False, [], 4000) == ""


def test_the_prompts_entries_share_its_character_budget():
    long = "Texto sobre trocas. " * 200
    section = knowledge_section(True, [hit("A", long), hit("B", long)], 1000)
    assert len(section) < 1000 + 600
