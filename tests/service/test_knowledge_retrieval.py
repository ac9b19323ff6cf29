"""Retrieval from the knowledge base in Postgres (core/knowledge.py): the
shop of tests/fixtures/knowledge in Portuguese, Spanish and English, asked
with and without accents and with typos; what the offline provider answers
and what it hands over; and the same without Postgres' contrib extensions."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extras
import pytest

from python_services.common.migrate import migrate
from python_services.core import knowledge
from tests.conftest import _server_url, scratch_database

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "knowledge"
SHOP = json.loads((FIXTURES / "shop.json").read_text())["entries"]
QUESTIONS = json.loads((FIXTURES / "questions.json").read_text())["questions"]


def load_shop(tx, make_tenant, language: str, name: str | None = None) -> tuple[str, dict]:
    tenant = make_tenant(name or f"shop-{language}", settings={"knowledge_language": language},
                         webhook_secret=f"{language}-secret")

    def load(cur):
        return {knowledge.create(cur, tenant["id"], title=e["title"], content=e["content"], tags=e["tags"],
                                 language=language, actor="test")["id"]: e["key"] for e in SHOP[language]}

    return tenant["id"], tx(load)


@pytest.fixture
def shops(tx, make_tenant):
    """The shop's tenant in each language: {language: (tenant id, {entry id: key})}."""
    return {language: load_shop(tx, make_tenant, language) for language in SHOP}


def found(tx, shops, question) -> list[str]:
    tenant_id, keys = shops[question["language"]]
    hits = tx(knowledge.search, tenant_id, question["text"], language=question["language"], limit=3)
    return [keys[h.id] for h in hits]


def misses(tx, shops, kind) -> list[tuple]:
    """The questions of a kind (in each language) whose entry is not among the first three."""
    asked = [q for q in QUESTIONS if q["kind"] == kind and q["answer"] is not None]
    # English has no accents to leave out; every language has typos
    assert {q["language"] for q in asked} >= ({"portuguese", "spanish"} if "accents" in kind else set(SHOP))
    return [(q["text"], q["answer"], got) for q in asked if q["answer"] not in (got := found(tx, shops, q))]


def test_questions_written_without_accents_find_their_entries(tx, shops):
    assert misses(tx, shops, "no-accents") == []


def test_questions_with_typos_find_their_entries(tx, shops):
    assert misses(tx, shops, "typo") == []


def test_questions_written_with_accents_find_their_entries(tx, shops):
    assert misses(tx, shops, "accents") == []


def test_the_whole_evaluation_set_finds_nine_answers_in_ten_among_the_first_three(tx, shops):
    covered = [q for q in QUESTIONS if q["answer"] is not None]
    assert len(covered) >= 40 and {q["language"] for q in covered} == {"portuguese", "spanish", "english"}
    hits = [q["answer"] in found(tx, shops, q) for q in covered]
    assert sum(hits) / len(hits) >= 0.9


def test_questions_the_shop_does_not_cover_find_nothing_the_offline_provider_would_answer_with(tx, shops):
    for question in [q for q in QUESTIONS if q["answer"] is None]:
        tenant_id, _ = shops[question["language"]]
        hits = tx(knowledge.search, tenant_id, question["text"], language=question["language"], limit=3)
        assert not (hits and knowledge.confident(hits[0])), question


# the offline provider's old matcher's cases (a knowledge base of a few questions per language)
SMALL = {
    "english": [("What are your opening hours?", "hours"), ("Do you deliver?", "delivery"),
                ("Which payment methods do you accept?", "payment")],
    "portuguese": [("Quais são os horários de funcionamento?", "hours"), ("Quanto custa a entrega?", "delivery"),
                   ("Vocês aceitam Pix ou cartão?", "payment"), ("Oi", "greeting")],
    "spanish": [("¿Cuál es el horario de atención?", "hours"), ("¿Hacen envíos a domicilio?", "delivery"),
                ("¿Aceptan tarjeta de crédito?", "payment")],
}


@pytest.fixture
def small(tx, make_tenant):
    made = {}
    for language, entries in SMALL.items():
        tenant = make_tenant(f"small-{language}", webhook_secret=f"small-{language}")
        tx(lambda cur, t=tenant, l=language, es=entries: [
            knowledge.create(cur, t["id"], title=q, content=a, language=l, actor="test") for q, a in es])
        made[language] = tenant["id"]
    return made


def offline_answer(tx, small, language, message):
    hits = tx(knowledge.search, small[language], message, language=language, limit=3)
    return hits[0].content if hits and knowledge.confident(hits[0]) else None


@pytest.mark.parametrize("language, message, answer", [
    ("english", "hi! when are you open today?", "hours"),
    ("english", "Can you deliver to my place?", "delivery"),
    ("english", "Do you accept credit cards as payment?", "payment"),
    ("portuguese", "Oi, qual o horário de vocês?", "hours"),
    ("portuguese", "QUE HORAS VOCÊS ABREM? funcionamento sábado", "hours"),
    ("portuguese", "qual o valor da entrega pra zona sul?", "delivery"),
    ("portuguese", "posso pagar com pix?", "payment"),
    ("portuguese", "Oi!", "greeting"),
    ("portuguese", "qual o orario de funsionamento", "hours"),
    ("spanish", "Hola, ¿qué horario tienen?", "hours"),
    ("spanish", "¿hacen envios al centro?", "delivery"),
    ("spanish", "puedo pagar con TARJETA", "payment"),
])
def test_a_customer_question_finds_the_answer_the_offline_provider_gives(tx, small, language, message, answer):
    assert offline_answer(tx, small, language, message) == answer


@pytest.mark.parametrize("language, message", [
    ("english", "I want to return a broken phone"),
    ("english", "ok"),
    ("portuguese", "Quero falar sobre meu pedido atrasado"),
    ("portuguese", "👍"),
    ("spanish", "¿Dónde está mi paquete?"),
    ("spanish", ""),
])
def test_nothing_close_enough_leaves_the_offline_provider_nothing_to_answer_with(tx, small, language, message):
    assert offline_answer(tx, small, language, message) is None


def test_one_tenants_entries_are_never_found_for_another(tx, shops, make_tenant):
    empty = make_tenant("empty-shop", webhook_secret="empty")
    assert tx(knowledge.search, empty["id"], "horário de funcionamento", language="portuguese") == []
    assert tx(knowledge.for_reply, empty["id"], "horário", {"knowledge_language": "portuguese",
                                                            "knowledge_max_entries": 4}) == (False, [])


def test_pythons_trigram_similarity_is_pg_trgms(tx):
    pairs = [("funsionamento", "funcionamento"), ("parsel", "parcel"), ("orario", "horario"), ("pix", "pizza")]

    def ask(cur):
        cur.execute("SELECT similarity(a, b) AS s FROM unnest(%s::text[], %s::text[]) AS t(a, b)",
                    ([a for a, _ in pairs], [b for _, b in pairs]))
        return [r["s"] for r in cur.fetchall()]

    assert tx(ask) == pytest.approx([knowledge.trigram_similarity(a, b) for a, b in pairs], abs=1e-6)


# ---------------------------------------------------------------- without Postgres' contrib


@pytest.fixture
def bare_database():
    """A database migrated by a role that may not create extensions (no
    unaccent, no pg_trgm: what a server without Postgres' contrib gives)."""
    role = f"hf_bare_{uuid.uuid4().hex[:8]}"
    server = psycopg2.connect(_server_url())
    server.autocommit = True
    with server.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN")
    try:
        with scratch_database("hf_bare") as url:
            owner = psycopg2.connect(url)
            owner.autocommit = True
            with owner.cursor() as cur:
                cur.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}")
            owner.close()
            parts = urlsplit(url)
            as_role = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))
            migrate(as_role)
            conn = psycopg2.connect(as_role, cursor_factory=psycopg2.extras.RealDictCursor)
            conn.autocommit = True
            yield conn
            conn.close()
    finally:
        with server.cursor() as cur:
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        server.close()


def test_without_unaccent_and_pg_trgm_accents_are_still_folded_and_typos_forgiven(bare_database):
    cur = bare_database.cursor()
    cur.execute("SELECT extname FROM pg_extension")
    assert {r["extname"] for r in cur.fetchall()} == {"plpgsql"}
    cur.execute("SELECT knowledge_fold('Horário ÁGUA Ação ñandú') AS folded")
    assert cur.fetchone()["folded"] == "horario agua acao nandu"
    cur.execute("INSERT INTO tenants (instance_name, webhook_secret_hash) VALUES ('bare', %s) RETURNING id",
                ("0" * 64,))
    tenant_id = cur.fetchone()["id"]
    for entry in SHOP["portuguese"]:
        knowledge.create(cur, tenant_id, title=entry["title"], content=entry["content"], tags=entry["tags"],
                         language="portuguese", actor="test")
    keys = {e["title"]: e["key"] for e in SHOP["portuguese"]}
    for text, key in (("qual o orario de funsionamento", "hours"), ("vcs tem estasionamento?", "parking"),
                      ("a sola do meu tenis descolou, tem garantia?", "warranty")):
        hits = knowledge.search(cur, tenant_id, text, language="portuguese", limit=3)
        assert key in [keys[h.title] for h in hits], text
