"""/tokens/* over HTTP, as the n8n inbound (a failed reply) and recovery flows call them."""
from __future__ import annotations

import pytest

from tests.rows import rows


@pytest.fixture
def call(app, service_headers):
    client = app.test_client()

    def post(path, body=None, headers=service_headers):
        return client.post(path, json=body, headers=headers) if body is not None else client.post(path, headers=headers)

    return post


def test_a_failure_is_recorded_with_its_error(call, customer_says, db_conn):
    token = customer_says("Oi!")
    assert call(f"/tokens/{token}/fail", {"error": "provider timeout"}).get_json() == {
        "state": "failed", "reason": None, "error": "provider timeout"}


@pytest.mark.parametrize("path, body, status, field", [
    ("fail", {}, 400, "error"),
])
def test_bad_token_calls_are_refused_naming_the_field(call, customer_says, path, body, status, field):
    token = customer_says("Oi!")
    resp = call(f"/tokens/{token}/{path}", body)
    assert resp.status_code == status and resp.get_json()["error"]["field"] == field


@pytest.mark.parametrize("path", ["fail"])
def test_an_unknown_token_is_not_found(call, clean_db, path):
    body = {"parts": ["x"], "part": 0, "wa_message_id": "W", "error": "e"}
    assert call(f"/tokens/00000000-0000-4000-8000-000000000000/{path}", body).status_code == 404
    assert call(f"/tokens/garbage/{path}", body).status_code == 404


@pytest.mark.parametrize("path", ["/tokens/x/fail", "/tokens/recover"])
def test_token_routes_want_the_service_token(call, admin_headers, path):
    assert call(path, {}, headers=admin_headers).status_code == 401


def test_recovery_hands_back_stuck_replies_and_fails_unconfirmed_sends(call, customer_says, tx, db_conn):
    from python_services.core import ledger as tokens

    stuck = customer_says("Oi!", chat_id="5511900000001@s.whatsapp.net", deadline_seconds=0)
    sending = customer_says("Olá", chat_id="5511900000002@s.whatsapp.net", deadline_seconds=0)
    customer_says("Bom dia", chat_id="5511900000003@s.whatsapp.net", deadline_seconds=600)
    tx(tokens.claim_send, sending, ["Olá!"])
    found = call("/tokens/recover", {"older_than_seconds": 0}).get_json()
    assert [r["reply_token"] for r in found["retry"]] == [str(stuck)]
    assert found["failed"] == 1
    assert rows(db_conn, "SELECT state FROM reply_tokens WHERE id = %s", sending)[0]["state"] == "failed"
    # handed back once: not again until its new deadline passes
    assert call("/tokens/recover").get_json() == {"retry": [], "failed": 0}


@pytest.mark.parametrize("body, field", [({"older_than_seconds": -1}, "older_than_seconds"),
                                         ({"max_attempts": "3"}, "max_attempts")])
def test_bad_recovery_calls_are_refused(call, clean_db, body, field):
    resp = call("/tokens/recover", body)
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field
