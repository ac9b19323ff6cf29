"""POST /reply through each provider, with the real SDKs against the fake
LLM server: what goes out on the wire, what comes back to the flow, and
what is recorded on the reply token."""
from __future__ import annotations

import pytest

from .conftest import ANTHROPIC_KEY, OPENAI_KEY


def test_an_anthropic_tenant_gets_the_models_text_and_the_token_records_it(chat, reply, fake_llm, token_row):
    fake_llm.enqueue({"text": "We open at 9am.", "tokens_in": 321, "tokens_out": 7})
    token = chat.customer_says("When do you open?")

    answer = reply(token)

    assert answer["outcome"] == "text"
    assert answer["text"] == "We open at 9am."
    assert answer["handoff"] is False
    assert (answer["provider"], answer["model"]) == ("anthropic", "claude-haiku-4-5")
    row = token_row(token)
    assert (row["llm_provider"], row["llm_model"], row["llm_outcome"]) == ("anthropic", "claude-haiku-4-5", "text")
    assert (row["tokens_in"], row["tokens_out"]) == (321, 7)
    assert row["reply_text"] == "We open at 9am."
    assert row["llm_latency_ms"] is not None and row["llm_latency_ms"] >= 0
    assert row["state"] == "pending"  # sending is the evolution service's step


def test_anthropic_gets_the_system_prompt_as_a_cached_block_and_the_tenants_key(chat, reply, fake_llm):
    chat.customer_says("Hello")
    reply(chat.token)

    [sent] = fake_llm.requests_to("anthropic")
    assert sent["headers"]["authorization"] == f"Bearer {ANTHROPIC_KEY}" or sent["headers"].get("x-api-key") == ANTHROPIC_KEY
    [block] = sent["body"]["system"]
    assert block["type"] == "text"
    assert block["cache_control"] == {"type": "ephemeral"}
    assert block["text"].startswith("You are the assistant of Acme Store.")
    assert sent["body"]["messages"] == [{"role": "user", "content": "Hello"}]
    assert sent["body"]["max_tokens"] == 1024


def test_anthropic_counts_cached_prompt_tokens_as_tokens_in(chat, reply, fake_llm, token_row):
    fake_llm.enqueue({"text": "Hi!", "tokens_in": 10, "tokens_out": 2,
                      "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000})
    reply(chat.customer_says("Hello"))
    assert token_row(chat.token)["tokens_in"] == 1110


def test_an_openai_tenant_is_answered_through_chat_completions(chat, tenant, set_tenant, reply, fake_llm, token_row):
    set_tenant(tenant, llm_provider="openai", llm_model="gpt-4o-mini")
    fake_llm.enqueue({"text": "Sure, we deliver.", "tokens_in": 50, "tokens_out": 4})

    answer = reply(chat.customer_says("Do you deliver?"))

    assert (answer["outcome"], answer["text"]) == ("text", "Sure, we deliver.")
    assert (answer["provider"], answer["model"]) == ("openai", "gpt-4o-mini")
    [sent] = fake_llm.requests_to("openai")
    assert sent["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent["body"]["model"] == "gpt-4o-mini"
    assert sent["body"]["messages"][0]["role"] == "system"
    assert sent["body"]["messages"][0]["content"].startswith("You are the assistant of Acme Store.")
    assert sent["body"]["messages"][1:] == [{"role": "user", "content": "Do you deliver?"}]
    assert sent["body"]["max_completion_tokens"] == 1024
    row = token_row(chat.token)
    assert (row["tokens_in"], row["tokens_out"], row["llm_provider"]) == (50, 4, "openai")


def test_an_openai_compatible_tenant_uses_its_own_base_url_and_never_the_openai_key(
        chat, tenant, set_tenant, make_app, service_headers, fake_llm):
    set_tenant(tenant, llm_provider="openai_compatible", llm_model="qwen2.5:7b",
               settings={"llm_base_url": fake_llm.openai_url})
    # the deployment's OpenAI settings point elsewhere: the tenant's URL must win
    client = make_app(OPENAI_BASE_URL="http://127.0.0.1:9/v1").test_client()
    fake_llm.enqueue({"text": "Olá! Como posso ajudar?"})

    answer = client.post("/reply", json={"reply_token": chat.customer_says("Oi")}, headers=service_headers).get_json()

    assert answer["outcome"] == "text" and answer["provider"] == "openai_compatible"
    [sent] = fake_llm.requests_to("openai")
    assert sent["body"]["model"] == "qwen2.5:7b"
    assert sent["body"]["max_tokens"] == 1024
    assert OPENAI_KEY not in sent["headers"]["authorization"]


def test_a_tenants_own_api_key_and_model_override_the_deployments(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, llm_model="claude-sonnet-4-6", settings={"llm_api_key": "sk-ant-tenant-own"})
    reply(chat.customer_says("Hi"))
    [sent] = fake_llm.requests_to("anthropic")
    assert "sk-ant-tenant-own" in (sent["headers"].get("authorization", "") + sent["headers"].get("x-api-key", ""))
    assert sent["body"]["model"] == "claude-sonnet-4-6"


def test_a_tenant_switches_provider_by_a_settings_change_alone(chat, tenant, set_tenant, reply, fake_llm):
    reply(chat.customer_says("First question"))
    set_tenant(tenant, llm_provider="openai")
    reply(chat.customer_says("Second question"))
    assert [r["api"] for r in fake_llm.requests] == ["anthropic", "openai"]


def test_offline_answers_from_the_knowledge_base_without_any_network(
        chat, tenant, set_tenant, reply, fake_llm, token_row, add_knowledge):
    set_tenant(tenant, llm_provider="offline", settings={"knowledge_language": "english"})
    add_knowledge(tenant, ("What are your opening hours?", "Mon-Fri, **9am to 6pm**."),
                  ("Do you deliver?", "Yes, in the whole city."), language="english")

    answer = reply(chat.customer_says("hi, when are you open?"))

    assert answer == {**answer, "outcome": "text", "text": "Mon-Fri, *9am to 6pm*.", "handoff": False,
                      "provider": "offline", "model": "knowledge-base"}
    assert fake_llm.requests == []
    row = token_row(chat.token)
    assert (row["llm_provider"], row["tokens_in"], row["tokens_out"]) == ("offline", 0, 0)


def test_offline_without_a_match_hands_off_with_the_tenants_handoff_message(
        chat, tenant, set_tenant, reply, token_row, add_knowledge):
    set_tenant(tenant, llm_provider="offline", settings={"handoff_message": "Um atendente já vai te responder!"})
    add_knowledge(tenant, ("Qual o horário de funcionamento?", "Das 9h às 18h."))

    answer = reply(chat.customer_says("Quero trocar um produto com defeito"))

    assert (answer["outcome"], answer["text"], answer["handoff"]) == (
        "handoff", "Um atendente já vai te responder!", True)
    row = token_row(chat.token)
    assert row["handoff"] is True and row["llm_outcome"] == "handoff"


def test_a_fresh_install_without_any_key_runs_offline(chat, tenant, set_tenant, make_app, service_headers, fake_llm):
    set_tenant(tenant, llm_provider="offline")
    client = make_app(ANTHROPIC_API_KEY="", OPENAI_API_KEY="").test_client()
    answer = client.post("/reply", json={"reply_token": chat.customer_says("Hello?")}, headers=service_headers).get_json()
    assert answer["outcome"] == "handoff" and answer["provider"] == "offline"
    assert fake_llm.requests == []


@pytest.mark.parametrize("body, field", [
    ({}, "reply_token"),
    ({"reply_token": 12}, "reply_token"),
    ({"reply_token": "not-a-uuid"}, "reply_token"),
])
def test_a_malformed_reply_request_is_refused_naming_the_field(client, service_headers, body, field):
    resp = client.post("/reply", json=body, headers=service_headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == field


def test_an_unknown_reply_token_is_a_404(client, service_headers):
    resp = client.post("/reply", json={"reply_token": "00000000-0000-0000-0000-000000000000"},
                       headers=service_headers)
    assert resp.status_code == 404
    assert resp.get_json()["error"]["field"] == "reply_token"


def test_reply_requires_the_service_token(client, chat):
    resp = client.post("/reply", json={"reply_token": chat.customer_says("Hi")})
    assert resp.status_code == 401
