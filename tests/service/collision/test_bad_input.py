"""Bad input that once got a 500 (issue 12): each is now a 400 that names the
field, and stores nothing."""
from __future__ import annotations

import io
import json
import logging

import pytest

from python_services.common.errors import ApiError
from python_services.common.logs import JsonFormatter
from python_services.core import ledger
from tests.rows import rows

from .conftest import CHAT
from .test_fuzz_webhook import body_with, post_raw

NEW_TENANT = {"instance_name": "loja-da-ana", "evo_server_url": "https://evo.example.com", "llm_provider": "offline"}


def refused(resp, field):
    body = resp.get_json()
    assert resp.status_code == 400, (resp.status_code, body)
    assert body["error"]["field"] == field, body
    assert body["error"]["code"] and body["error"]["message"]


def raw_json(value) -> bytes:
    """JSON as the client sends it: NaN allowed, lone surrogates kept as \\uXXXX escapes."""
    return json.dumps(value, allow_nan=True).encode()


# ---------------------------------------------------------------- webhook


@pytest.mark.parametrize("timestamp", [{"low": "x"}, {"low": 1, "high": "y"}, {"low": [1]}, {"low": 1, "high": 2 ** 60},
                                       "soon", True])
def test_a_webhook_whose_timestamp_is_not_a_time_is_refused_naming_it(app, service_headers, tenant, db_conn,
                                                                       timestamp):
    resp = post_raw(app, service_headers, raw_json(body_with(messageTimestamp=timestamp)))
    refused(resp, "data.messageTimestamp")
    assert rows(db_conn, "SELECT count(*) AS n FROM events")[0]["n"] == 0


# ---------------------------------------------------------------- query parameters


@pytest.mark.parametrize("query", ["limit=²", "limit=٣", "limit=" + "9" * 5000, "limit=-1", "limit=1.5", "limit= 5"])
def test_a_limit_that_is_not_plain_digits_is_refused_naming_it(admin, tenant, query):
    refused(admin("GET", f"/api/sessions?{query}"), "limit")
    refused(admin("GET", f"/api/events?tenant_id={tenant['id']}&{query}"), "limit")


@pytest.mark.parametrize("chat_id", ["%00", "55119%00", "5" * 300])
def test_a_chat_filter_postgres_cannot_hold_is_refused_naming_it(admin, tenant, chat_id):
    refused(admin("GET", f"/api/events?tenant_id={tenant['id']}&chat_id={chat_id}"), "chat_id")


@pytest.mark.parametrize("query, field", [("tenant_id=%00", "tenant_id"), ("paused=%00", "paused")])
def test_a_nul_in_a_session_filter_is_refused_naming_it(admin, query, field):
    refused(admin("GET", f"/api/sessions?{query}"), field)


# ---------------------------------------------------------------- tenants


@pytest.mark.parametrize("change, field", [
    ({"business_name": "Loja\x00"}, "business_name"),
    ({"business_name": "Loja\ud800"}, "business_name"),
    ({"system_prompt": "\udfff"}, "system_prompt"),
    ({"evo_api_key": "key\x00"}, "evo_api_key"),
    ({"evo_server_url": "https://evo\x00.example.com"}, "evo_server_url"),
    ({"llm_model": "gpt\x00"}, "llm_model"),
    ({"instance_name": "loja\x00"}, "instance_name"),
    ({"settings": {"handoff_message": "já\x00"}}, "settings.handoff_message"),
    ({"settings": {"llm_api_key": "\ud800"}}, "settings.llm_api_key"),
    ({"settings": {"handoff_keywords": ["humano\x00"]}}, "settings.handoff_keywords[0]"),
    ({"settings": {"owner_commands": {"pause": "#off\x00"}}}, "settings.owner_commands.pause"),
    ({"settings": {"knowledge_base": [{"question": "q", "answer": "a\x00"}]}},
     "settings.knowledge_base[0].answer"),
    ({"settings": {"knowledge_base": [{"question": "q", "answer": "a", "extra": float("nan")}]}},
     "settings.knowledge_base[0].extra"),
    ({"settings": {"timezone": "America/Sao_Paulo\x00"}}, "settings.timezone"),
])
def test_text_postgres_cannot_store_in_a_tenant_is_refused_naming_the_field(admin, db_conn, change, field):
    created = admin("POST", "/api/tenants", data=raw_json({**NEW_TENANT, **change}), content_type="application/json")
    refused(created, field)
    assert rows(db_conn, "SELECT count(*) AS n FROM tenants")[0]["n"] == 0
    tenant = admin("POST", "/api/tenants", json=NEW_TENANT).get_json()
    patched = admin("PATCH", f"/api/tenants/{tenant['id']}", data=raw_json(change), content_type="application/json")
    refused(patched, field)
    assert admin("GET", f"/api/tenants/{tenant['id']}").get_json()["business_name"] == ""


# ---------------------------------------------------------------- the flows' own endpoints


@pytest.mark.parametrize("older", ["1e308", "NaN", "Infinity", "-Infinity", "1e400", str(10 ** 30), "-1", '"60"'])
def test_a_recovery_age_that_is_not_a_sane_number_of_seconds_is_refused(app, service_headers, db_conn, older):
    resp = app.test_client().post("/tokens/recover", data=f'{{"older_than_seconds": {older}}}',
                                  content_type="application/json", headers=service_headers)
    refused(resp, "older_than_seconds")


@pytest.mark.parametrize("attempts", [str(2 ** 70), "-1", "1.5", "true"])
def test_a_recovery_attempt_count_out_of_range_is_refused(app, service_headers, db_conn, attempts):
    resp = app.test_client().post("/tokens/recover", data=f'{{"max_attempts": {attempts}}}',
                                  content_type="application/json", headers=service_headers)
    refused(resp, "max_attempts")


def test_recovery_with_sane_numbers_still_works(app, service_headers, db_conn):
    resp = app.test_client().post("/tokens/recover", json={"older_than_seconds": 30.5, "max_attempts": 3},
                                  headers=service_headers)
    assert resp.status_code == 200 and resp.get_json() == {"retry": [], "failed": 0}


@pytest.mark.parametrize("error", ["broke\x00", "\ud800"])
def test_a_reply_failure_whose_error_postgres_cannot_store_is_refused(app, service_headers, customer_says, error):
    token = customer_says("oi")
    resp = app.test_client().post(f"/tokens/{token}/fail", data=raw_json({"error": error}),
                                  content_type="application/json", headers=service_headers)
    refused(resp, "error")


@pytest.mark.parametrize("field", ["workflow_id", "workflow_name", "execution_id", "node", "message", "description"])
@pytest.mark.parametrize("bad", ["x\x00y", "x\ud800"])
def test_a_flow_failure_with_text_postgres_cannot_store_is_refused_naming_the_field(app, service_headers, db_conn,
                                                                                    field, bad):
    body = {"workflow_id": "hfInboundFlow001", "message": "boom", field: bad}
    resp = app.test_client().post("/flows/errors", data=raw_json(body), content_type="application/json",
                                  headers=service_headers)
    refused(resp, field)
    assert rows(db_conn, "SELECT count(*) AS n FROM flow_errors")[0]["n"] == 0


# ---------------------------------------------------------------- the send ledger, in-process


def test_an_over_long_message_id_from_evolution_is_refused_before_the_ledger(tx, tenant, customer_says, db_conn):
    token = customer_says("oi")
    with pytest.raises(ApiError) as refusal:
        tx(ledger.confirm_send, token, 0, "3EB0" + "A" * 1_000_000)
    assert (refusal.value.status, refusal.value.field) == (400, "wa_message_id")
    assert rows(db_conn, "SELECT count(*) AS n FROM messages WHERE author = 'bot'")[0]["n"] == 0


# ---------------------------------------------------------------- log lines


def test_a_huge_event_name_does_not_become_a_huge_log_line(app, service_headers, tenant):
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter("collision"))
    logging.getLogger().addHandler(handler)
    try:
        body = body_with()
        body["event"] = "e" * 5_000_000
        post_raw(app, service_headers, raw_json(body))
        logging.getLogger("hybridflow.test").warning("m" * 5_000_000, extra={"fields": {"chat": CHAT}})
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert lines and max(len(json.dumps(line)) for line in lines) < 20_000
    assert lines[-1]["msg"].endswith("[5000000 characters, truncated]")
    assert lines[-1]["chat"] == CHAT  # short fields are kept whole
