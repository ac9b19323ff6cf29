"""The knowledge base in every reply (POST /reply): the entries found for the
customer's message reach each provider after the tenant's prompt, with the
rule to answer facts from them only; the offline provider answers from the
best; and each reply records which entries it was written from."""
from __future__ import annotations

import json

import pytest

from python_services.llm.prompt import HANDOFF_MARKER, KNOWLEDGE_RULE, NO_KNOWLEDGE_RULE
from tests.rows import rows

HOURS = ("Horário de funcionamento", "Segunda a sexta das 9h às 19h; sábados das 9h às 14h.")
SHIPPING = ("Valor do frete", "Frete grátis acima de R$ 299; abaixo disso, R$ 19,90 para Curitiba.")
JOBS = ("Trabalhe conosco", "Envie o currículo para vagas@loja.example.")


def sources(db_conn, token):
    return [(r["rank"], r["title"]) for r in rows(
        db_conn, "SELECT rank, title FROM reply_sources WHERE reply_token_id = %s ORDER BY rank", token)]


def test_anthropic_is_given_the_matching_entry_after_the_cached_prompt_and_not_an_unrelated_one(
        chat, tenant, reply, fake_llm, add_knowledge, db_conn):
    add_knowledge(tenant, HOURS, SHIPPING, JOBS)
    token = chat.customer_says("vcs abrem sabado? ate que horas")

    assert reply(token)["outcome"] == "text"

    [sent] = fake_llm.requests_to("anthropic")
    prompt_block, knowledge_block = sent["body"]["system"]
    assert prompt_block["cache_control"] == {"type": "ephemeral"} and "cache_control" not in knowledge_block
    assert prompt_block["text"].startswith("You are the assistant of Acme Store.")
    assert f"[1] {HOURS[0]}\n{HOURS[1]}" in knowledge_block["text"]
    assert KNOWLEDGE_RULE in knowledge_block["text"]
    assert JOBS[1] not in json.dumps(sent["body"], ensure_ascii=False)
    assert sources(db_conn, token) == [(1, HOURS[0])]


def test_openai_is_given_the_same_entries_in_its_system_message(
        chat, tenant, set_tenant, reply, fake_llm, add_knowledge, db_conn):
    set_tenant(tenant, llm_provider="openai")
    add_knowledge(tenant, HOURS, SHIPPING, JOBS)
    token = chat.customer_says("qnto custa o frete pra curitba?")

    reply(token)

    [sent] = fake_llm.requests_to("openai")
    system = sent["body"]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are the assistant of Acme Store.")
    assert SHIPPING[1] in system["content"] and JOBS[1] not in system["content"]
    assert sources(db_conn, token) == [(1, SHIPPING[0])]


def test_when_no_entry_matches_the_model_is_told_not_to_guess(chat, tenant, reply, fake_llm, add_knowledge, db_conn):
    add_knowledge(tenant, HOURS, SHIPPING)
    token = chat.customer_says("vocês consertam celular?")

    reply(token)

    [sent] = fake_llm.requests_to("anthropic")
    assert sent["body"]["system"][1]["text"] == NO_KNOWLEDGE_RULE and HANDOFF_MARKER in NO_KNOWLEDGE_RULE
    assert sources(db_conn, token) == []


def test_a_tenant_without_a_knowledge_base_gets_its_prompt_alone(chat, reply, fake_llm):
    reply(chat.customer_says("qual o horário?"))
    [sent] = fake_llm.requests_to("anthropic")
    assert len(sent["body"]["system"]) == 1 and "knowledge base" not in sent["body"]["system"][0]["text"]


def test_a_follow_up_finds_the_entries_of_the_customers_previous_message(
        chat, tenant, reply, fake_llm, add_knowledge, db_conn):
    add_knowledge(tenant, HOURS, SHIPPING)
    chat.said("customer", "quanto é o frete?")
    chat.said("bot", "Para onde?")
    token = chat.customer_says("Londrina")

    reply(token)

    assert SHIPPING[1] in fake_llm.requests_to("anthropic")[0]["body"]["system"][1]["text"]
    assert sources(db_conn, token) == [(1, SHIPPING[0])]


def test_offline_answers_with_the_entry_and_records_it_alone_as_the_source(
        chat, tenant, set_tenant, reply, fake_llm, add_knowledge, db_conn):
    set_tenant(tenant, llm_provider="offline")
    add_knowledge(tenant, HOURS, SHIPPING, JOBS)
    token = chat.customer_says("qual o orario de funsionamento no sabado?")

    answer = reply(token)

    assert (answer["outcome"], answer["text"], answer["provider"]) == ("text", HOURS[1], "offline")
    assert fake_llm.requests == []
    assert sources(db_conn, token) == [(1, HOURS[0])]


def test_a_reply_that_fails_records_no_sources(chat, tenant, set_tenant, reply, fake_llm, add_knowledge, db_conn):
    set_tenant(tenant, settings={"fallback_providers": []})
    add_knowledge(tenant, HOURS)
    fake_llm.enqueue({"status": 400})
    token = chat.customer_says("que horas vocês abrem?")

    assert reply(token)["outcome"] == "failed"
    assert sources(db_conn, token) == []


@pytest.mark.parametrize("settings", [{"knowledge_max_entries": 0}])
def test_a_tenant_may_leave_the_knowledge_base_out_of_its_replies(
        chat, tenant, set_tenant, reply, fake_llm, add_knowledge, settings):
    set_tenant(tenant, settings=settings)
    add_knowledge(tenant, HOURS)
    reply(chat.customer_says("que horas vocês abrem?"))
    assert len(fake_llm.requests_to("anthropic")[0]["body"]["system"]) == 1
