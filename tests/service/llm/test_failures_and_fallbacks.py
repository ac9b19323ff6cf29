"""Failures are never silent: the SDKs retry 429/5xx/529, then the tenant's
fallback chain takes over, and when nothing answers the token is failed with
the error and the flow hears {"outcome": "failed"}: never a 500."""
from __future__ import annotations


def test_anthropic_retries_an_overloaded_answer_and_then_succeeds(chat, reply, fake_llm, token_row):
    fake_llm.enqueue({"status": 529, "api": "anthropic", "times": 2}, {"text": "Here I am."})

    answer = reply(chat.customer_says("Hello?"))

    assert (answer["outcome"], answer["text"], answer["provider"]) == ("text", "Here I am.", "anthropic")
    assert len(fake_llm.requests_to("anthropic")) == 3
    assert [r["headers"]["x-stainless-retry-count"] for r in fake_llm.requests] == ["0", "1", "2"]


def test_anthropic_overloaded_past_its_retries_falls_back_to_openai(chat, tenant, set_tenant, reply, fake_llm, token_row):
    set_tenant(tenant, settings={"fallback_providers": ["openai", "offline"]})
    fake_llm.enqueue({"status": 529, "api": "anthropic", "times": 3},
                     {"api": "openai", "text": "Answer from OpenAI.", "tokens_in": 40, "tokens_out": 5})

    answer = reply(chat.customer_says("Are you there?"))

    assert (answer["outcome"], answer["text"]) == ("text", "Answer from OpenAI.")
    assert (answer["provider"], answer["model"]) == ("openai", "gpt-4.1-mini")
    assert [t["provider"] for t in answer["tried"]] == ["anthropic"]
    assert "529 overloaded_error" in answer["tried"][0]["error"]
    assert [r["api"] for r in fake_llm.requests] == ["anthropic"] * 3 + ["openai"]
    row = token_row(chat.token)
    assert (row["llm_provider"], row["tokens_in"], row["tokens_out"]) == ("openai", 40, 5)


def test_the_fallback_uses_the_deployments_key_not_the_tenants(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"fallback_providers": ["openai"], "llm_api_key": "sk-ant-tenant-own"})
    fake_llm.enqueue({"status": 500, "api": "anthropic", "times": 3})
    reply(chat.customer_says("Hi"))
    [to_openai] = fake_llm.requests_to("openai")
    assert "sk-ant-tenant-own" not in to_openai["headers"]["authorization"]


def test_when_every_provider_is_down_the_chain_ends_offline_with_a_handoff(
        chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"fallback_providers": ["openai", "offline"],
                                 "handoff_message": "A person will answer you soon."})
    fake_llm.enqueue({"status": 529, "api": "anthropic", "times": 3}, {"status": 429, "api": "openai", "times": 3})

    answer = reply(chat.customer_says("Hello"))

    assert (answer["outcome"], answer["text"], answer["provider"]) == ("handoff", "A person will answer you soon.", "offline")
    assert [t["provider"] for t in answer["tried"]] == ["anthropic", "openai"]


def test_retries_then_failure_is_recorded_on_the_token_and_answered_as_failed(chat, tenant, set_tenant, reply,
                                                                               fake_llm, token_row):
    set_tenant(tenant, settings={"fallback_providers": []})
    fake_llm.enqueue({"status": 500, "api": "anthropic", "times": 3})

    answer = reply(chat.customer_says("Hello"))

    assert answer["outcome"] == "failed"
    assert "anthropic (claude-haiku-4-5): HTTP 500 api_error: Internal server error (after 2 retries)" == answer["error"]
    assert len(fake_llm.requests) == 3
    row = token_row(chat.token)
    assert row["state"] == "failed" and row["error"] == answer["error"]
    assert (row["llm_outcome"], row["llm_provider"]) == ("failed", "anthropic")


def test_the_number_of_retries_is_configurable(chat, tenant, set_tenant, make_app, service_headers, fake_llm):
    set_tenant(tenant, settings={"fallback_providers": []})
    fake_llm.enqueue({"status": 429, "api": "anthropic", "times": 10})
    client = make_app(LLM_MAX_RETRIES="0").test_client()
    answer = client.post("/reply", json={"reply_token": chat.customer_says("Hi")}, headers=service_headers).get_json()
    assert answer["outcome"] == "failed" and "HTTP 429 rate_limit_error" in answer["error"]
    assert len(fake_llm.requests) == 1


def test_a_provider_slower_than_the_timeout_fails_over(chat, tenant, set_tenant, make_app, service_headers, fake_llm):
    set_tenant(tenant, settings={"fallback_providers": ["openai"]})
    fake_llm.enqueue({"api": "anthropic", "delay": 2, "text": "too late"}, {"api": "openai", "text": "On time."})
    client = make_app(llm_timeout=0.3, LLM_MAX_RETRIES="0").test_client()

    answer = client.post("/reply", json={"reply_token": chat.customer_says("Hi")}, headers=service_headers).get_json()

    assert (answer["outcome"], answer["text"]) == ("text", "On time.")
    assert answer["tried"][0]["error"] == "timed out after 0.3s"


def test_a_client_error_is_not_retried_and_names_the_problem(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"fallback_providers": []})
    fake_llm.enqueue({"status": 401, "api": "anthropic"})
    answer = reply(chat.customer_says("Hi"))
    assert answer["error"] == "anthropic (claude-haiku-4-5): HTTP 401 authentication_error: Invalid API key"
    assert len(fake_llm.requests) == 1


def test_an_unreachable_provider_fails_over(chat, tenant, set_tenant, make_app, service_headers):
    set_tenant(tenant, settings={"fallback_providers": ["offline"]})
    client = make_app(ANTHROPIC_BASE_URL="http://127.0.0.1:9", LLM_MAX_RETRIES="0").test_client()
    answer = client.post("/reply", json={"reply_token": chat.customer_says("Hi")}, headers=service_headers).get_json()
    assert answer["outcome"] == "handoff" and answer["provider"] == "offline"
    assert answer["tried"][0]["error"].startswith("connection failed")


def test_a_provider_without_a_key_is_skipped_for_the_next_in_the_chain(
        chat, tenant, set_tenant, make_app, service_headers, fake_llm):
    set_tenant(tenant, settings={"fallback_providers": ["openai"]})
    client = make_app(ANTHROPIC_API_KEY="").test_client()
    answer = client.post("/reply", json={"reply_token": chat.customer_says("Hi")}, headers=service_headers).get_json()
    assert answer["provider"] == "openai"
    assert "no API key" in answer["tried"][0]["error"]
    assert [r["api"] for r in fake_llm.requests] == ["openai"]


def test_an_empty_model_reply_is_never_sent_it_moves_down_the_chain(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"fallback_providers": ["openai"]})
    fake_llm.enqueue({"api": "anthropic", "text": "   "}, {"api": "openai", "text": "A real answer."})
    answer = reply(chat.customer_says("Hi"))
    assert (answer["text"], answer["provider"]) == ("A real answer.", "openai")
    assert answer["tried"] == [{"provider": "anthropic", "model": "claude-haiku-4-5", "error": "empty reply"}]


def test_an_empty_reply_with_no_fallback_left_fails_the_token(chat, tenant, set_tenant, reply, fake_llm, token_row):
    set_tenant(tenant, settings={"fallback_providers": []})
    fake_llm.enqueue({"api": "anthropic", "text": ""})
    answer = reply(chat.customer_says("Hi"))
    assert answer["outcome"] == "failed" and answer["error"].endswith("empty reply")
    assert token_row(chat.token)["state"] == "failed"


def test_once_the_replys_time_budget_is_spent_only_offline_is_tried(
        chat, tenant, set_tenant, make_app, service_headers, fake_llm):
    # one slow failing provider eats the budget: openai is skipped, offline hands over
    set_tenant(tenant, settings={"fallback_providers": ["openai", "offline"],
                                 "handoff_message": "A person will answer you soon."})
    fake_llm.enqueue({"status": 500, "api": "anthropic", "times": 3, "delay": 0.2})
    client = make_app(LLM_REPLY_BUDGET_SECONDS="0.3").test_client()

    answer = client.post("/reply", json={"reply_token": chat.customer_says("Hello")}, headers=service_headers).get_json()

    assert (answer["outcome"], answer["provider"]) == ("handoff", "offline")
    assert [t["provider"] for t in answer["tried"]] == ["anthropic", "openai"]
    assert "budget is spent" in answer["tried"][1]["error"]
    assert fake_llm.requests_to("openai") == []
