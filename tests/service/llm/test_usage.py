"""GET /api/usage: tokens and replies per tenant and UTC day, with an
estimated cost from the price table (admin token)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from .conftest import Chat


def record(db_conn, token_id, *, provider, model, tokens_in, tokens_out, outcome="text", days_ago=0):
    with db_conn.cursor() as cur:
        cur.execute(
            "UPDATE reply_tokens SET llm_provider = %s, llm_model = %s, llm_outcome = %s, tokens_in = %s,"
            " tokens_out = %s, created_at = %s WHERE id = %s",
            (provider, model, outcome, tokens_in, tokens_out,
             datetime.now(timezone.utc) - timedelta(days=days_ago), token_id),
        )


@pytest.fixture
def spend(chat, db_conn):
    """spend(model, tokens_in, tokens_out, ...): one reply recorded for the chat's tenant."""

    def one(model, tokens_in, tokens_out, provider="anthropic", chat_=None, **kwargs):
        token = (chat_ or chat).customer_says("message")
        record(db_conn, token, provider=provider, model=model, tokens_in=tokens_in, tokens_out=tokens_out, **kwargs)
        return token

    return one


def usage(client, admin_headers, **params):
    resp = client.get("/api/usage", query_string=params, headers=admin_headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_reply_through_the_service_shows_in_the_days_usage(chat, tenant, reply, client, admin_headers, fake_llm):
    fake_llm.enqueue({"text": "Hi!", "tokens_in": 1000, "tokens_out": 200})
    reply(chat.customer_says("Hello"))

    body = usage(client, admin_headers, tenant_id=str(tenant["id"]))

    today = datetime.now(timezone.utc).date().isoformat()
    assert body["usage"] == [{
        "tenant_id": str(tenant["id"]), "day": today, "replies": 1, "failed": 0,
        "tokens_in": 1000, "tokens_out": 200, "cost_usd": 0.002,  # 1000 x $1/M + 200 x $5/M
        "models": [{"provider": "anthropic", "model": "claude-haiku-4-5", "replies": 1,
                    "tokens_in": 1000, "tokens_out": 200, "cost_usd": 0.002}],
        # no photo and no voice note that day (tests/service/llm/test_media_usage.py counts them)
        "images": 0, "image_tokens": 0, "transcriptions": 0, "transcription_seconds": 0.0,
        "transcription_models": [],
    }]
    assert body["days"] == 7 and body["currency"] == "USD"


def test_usage_sums_per_tenant_and_day_and_leaves_out_older_days(spend, client, admin_headers, tenant):
    spend("gpt-4o-mini", 1_000_000, 0, provider="openai")
    spend("gpt-4o-mini", 0, 1_000_000, provider="openai")
    spend("gpt-4o-mini", 500, 500, provider="openai", days_ago=1)
    spend("gpt-4o-mini", 999, 999, provider="openai", days_ago=3)

    days = usage(client, admin_headers, tenant_id=str(tenant["id"]), days=2)["usage"]

    assert [(d["day"], d["replies"], d["tokens_in"], d["tokens_out"], d["cost_usd"]) for d in days] == [
        ((datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat(), 1, 500, 500, 0.000375),
        (datetime.now(timezone.utc).date().isoformat(), 2, 1_000_000, 1_000_000, 0.75),
    ]


def test_a_model_without_a_price_has_a_null_cost_and_so_has_its_day(spend, client, admin_headers):
    spend("claude-haiku-4-5", 1_000_000, 0)
    spend("my-local-llama", 100, 100, provider="openai_compatible")
    [day] = usage(client, admin_headers)["usage"]
    assert day["cost_usd"] is None
    assert {m["model"]: m["cost_usd"] for m in day["models"]} == {"claude-haiku-4-5": 1.0, "my-local-llama": None}


def test_prices_come_from_llm_prices_over_the_built_in_table(spend, make_app, admin_headers):
    spend("my-local-llama", 2_000_000, 1_000_000, provider="openai_compatible")
    spend("claude-haiku-4-5-20251001", 1_000_000, 0)  # a dated name takes its family's price
    client = make_app(LLM_PRICES=json.dumps({"my-local-llama": {"input": 0.5, "output": 1}})).test_client()
    [day] = usage(client, admin_headers)["usage"]
    assert {m["model"]: m["cost_usd"] for m in day["models"]} == {
        "my-local-llama": 2.0, "claude-haiku-4-5-20251001": 1.0}
    assert day["cost_usd"] == 3.0


def test_a_malformed_price_table_stops_the_service_from_starting(make_app):
    with pytest.raises(ValueError, match="LLM_PRICES"):
        make_app(LLM_PRICES='{"gpt-4o": {"input": "cheap"}}')


def test_usage_covers_every_tenant_unless_one_is_named(spend, tx, make_tenant, client, admin_headers, tenant):
    other_tenant = make_tenant("other-shop")
    spend("claude-haiku-4-5", 10, 10)
    spend("claude-haiku-4-5", 20, 20, chat_=Chat(tx, other_tenant["id"]))

    everyone = usage(client, admin_headers)["usage"]
    one = usage(client, admin_headers, tenant_id=str(other_tenant["id"]))["usage"]

    assert sorted(d["tenant_id"] for d in everyone) == sorted([str(tenant["id"]), str(other_tenant["id"])])
    assert [(d["tenant_id"], d["tokens_in"]) for d in one] == [(str(other_tenant["id"]), 20)]


def test_failed_replies_count_with_their_outcome(spend, client, admin_headers):
    spend("claude-haiku-4-5", 0, 0, outcome="failed")
    spend("claude-haiku-4-5", 10, 10)
    [day] = usage(client, admin_headers)["usage"]
    assert (day["replies"], day["failed"]) == (2, 1)


def test_tokens_never_answered_by_the_llm_service_are_not_usage(chat, client, admin_headers):
    chat.customer_says("Hello")
    assert usage(client, admin_headers)["usage"] == []


@pytest.mark.parametrize("params, field", [
    ({"tenant_id": "nope"}, "tenant_id"),
    ({"days": "0"}, "days"),
    ({"days": "367"}, "days"),
    ({"days": "week"}, "days"),
])
def test_bad_usage_parameters_are_refused_naming_the_field(client, admin_headers, params, field):
    resp = client.get("/api/usage", query_string=params, headers=admin_headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == field


def test_usage_requires_the_admin_token_not_the_service_token(client, service_headers):
    assert client.get("/api/usage").status_code == 401
    assert client.get("/api/usage", headers=service_headers).status_code == 401
