"""POST /send against the sandbox as a real HTTP server: the send guard, the
ledger, typing, retries, and every gateway problem as a recorded outcome."""
from __future__ import annotations

import threading
import time

import pytest

from python_services.core import ledger as tokens
from tests.rows import token_row

from .conftest import CHAT, NUMBER


def send(evolution, service_headers, token, text="Temos sim! O Runner Azul 38 custa R$ 249,90.", **extra):
    resp = evolution.post("/send", json={"reply_token": token, "text": text, **extra}, headers=service_headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


@pytest.fixture
def send_new_reply(evolution, service_headers, tenant, reply_token):
    """send_new_reply(**tenant_fields) -> (token, answer): a reply token of a new
    tenant on the sandbox, sent with POST /send."""

    def run(**tenant_fields):
        token = reply_token(tenant(**tenant_fields))
        return token, send(evolution, service_headers, token)

    return run


def ledger(db_conn, token):
    with db_conn.cursor() as cur:
        cur.execute("SELECT part, text, state, wa_message_id, error FROM outbound"
                    " WHERE reply_token_id = %s ORDER BY part", (token,))
        return cur.fetchall()


def test_a_reply_is_sent_to_the_phone_number_and_its_id_lands_in_the_ledger(send_new_reply, sandbox, db_conn):
    token, answer = send_new_reply()

    assert answer["outcome"] == "sent"
    [wa_id] = answer["wa_message_ids"]
    assert wa_id.startswith("3EB0")
    [call] = sandbox.calls("sendText")
    assert call["body"] == {"number": NUMBER, "text": "Temos sim! O Runner Azul 38 custa R$ 249,90."}
    assert ledger(db_conn, token) == [{"part": 0, "text": "Temos sim! O Runner Azul 38 custa R$ 249,90.",
                                       "state": "sent", "wa_message_id": wa_id, "error": None}]
    assert token_row(db_conn, token)["state"] == "sent"


def test_a_reply_with_paragraphs_goes_out_as_several_messages_each_recorded(
        evolution, service_headers, sandbox, tenant, reply_token, db_conn):
    token = reply_token(tenant())
    answer = send(evolution, service_headers, token, "Olá Maria!\n\nTemos sim.\n\nQuer que eu reserve?")

    assert answer["outcome"] == "sent"
    assert len(answer["wa_message_ids"]) == 3
    assert [c["body"]["text"] for c in sandbox.calls("sendText")] == ["Olá Maria!", "Temos sim.", "Quer que eu reserve?"]
    rows = ledger(db_conn, token)
    assert [(r["part"], r["state"], r["wa_message_id"]) for r in rows] == [
        (n, "sent", wa_id) for n, wa_id in enumerate(answer["wa_message_ids"])]
    with db_conn.cursor() as cur:
        cur.execute("SELECT text FROM messages WHERE author = 'bot' ORDER BY id")
        assert [r["text"] for r in cur.fetchall()] == ["Olá Maria!", "Temos sim.", "Quer que eu reserve?"]


def test_a_gateway_error_500_is_retried_and_the_reply_still_goes_out(send_new_reply, sandbox, db_conn):
    sandbox.knobs(fail_next_sends=2)
    token, answer = send_new_reply()

    assert answer["outcome"] == "sent"
    assert [c["status"] for c in sandbox.calls("sendText")] == [500, 500, 201]
    assert token_row(db_conn, token)["state"] == "sent"


def test_a_gateway_that_keeps_failing_ends_the_reply_as_failed_with_the_reason(send_new_reply, sandbox, db_conn):
    sandbox.knobs(fail_next_sends=10)
    token, answer = send_new_reply()

    assert answer["outcome"] == "failed"
    assert answer["status"] == 500
    assert "Connection Closed" in answer["error"] and "after 3 attempts" in answer["error"]
    assert len(sandbox.calls("sendText")) == 3
    row = token_row(db_conn, token)
    assert (row["state"], row["error"]) == ("failed", answer["error"])
    assert [r["state"] for r in ledger(db_conn, token)] == ["failed"]


@pytest.mark.parametrize("case, status, words", [
    ("wrong_api_key", 401, "refused the API key"),
    ("unknown_instance", 404, 'The "ghost-store" instance does not exist'),
    ("number_not_on_whatsapp", 400, f"the number {NUMBER} is not on WhatsApp"),
])
def test_a_gateway_refusal_is_not_retried_and_is_recorded_with_a_clear_message(
        case, status, words, evolution, service_headers, sandbox, tenant, reply_token, db_conn):
    if case == "wrong_api_key":
        row = tenant(evo_api_key="not-the-key")
    elif case == "unknown_instance":
        row = tenant(instance_name="ghost-store")
    else:
        sandbox.knobs(not_on_whatsapp=[NUMBER])
        row = tenant()
    token = reply_token(row)
    answer = send(evolution, service_headers, token)

    assert answer["outcome"] == "failed"
    assert answer["status"] == status
    assert words in answer["error"]
    assert [c["status"] for c in sandbox.calls("sendText")] == [status]  # no retry
    t = token_row(db_conn, token)
    assert (t["state"], t["error"]) == ("failed", answer["error"])


def test_an_unreachable_gateway_is_a_failed_outcome_not_a_crash(send_new_reply, db_conn):
    token, answer = send_new_reply(evo_server_url="http://127.0.0.1:9")

    assert answer["outcome"] == "failed"
    assert answer["status"] is None
    assert "cannot reach Evolution at http://127.0.0.1:9" in answer["error"]
    assert token_row(db_conn, token)["state"] == "failed"


def test_the_reply_is_cancelled_and_never_sent_when_the_owner_took_over(
        evolution, service_headers, sandbox, tenant, reply_token, db_conn):
    row = tenant()
    token = reply_token(row)
    with db_conn.cursor() as cur:
        tokens.pause_session(cur, row["id"], CHAT, "human_takeover")
    answer = send(evolution, service_headers, token)

    assert answer["outcome"] == "cancelled"
    assert answer["reason"] == "human_takeover"
    assert sandbox.calls("sendText") == []
    assert token_row(db_conn, token)["state"] == "cancelled"


def test_a_superseded_reply_is_not_sent(evolution, service_headers, sandbox, tenant, reply_token):
    row = tenant()
    older = reply_token(row)
    reply_token(row)  # the customer wrote again
    answer = send(evolution, service_headers, older)

    assert (answer["outcome"], answer["reason"]) == ("cancelled", "newer_message")
    assert sandbox.calls("sendText") == []


def test_sending_the_same_reply_twice_sends_it_once(evolution, service_headers, sandbox, tenant, reply_token):
    token = reply_token(tenant())
    assert send(evolution, service_headers, token)["outcome"] == "sent"
    again = send(evolution, service_headers, token)

    assert again["outcome"] == "cancelled"
    assert len(sandbox.calls("sendText")) == 1


def test_typing_shows_first_for_a_time_that_follows_the_text_length(
        evolution, service_headers, sandbox, tenant, reply_token):
    settings = {"typing": True, "time_per_char": 2, "typing_min_ms": 10, "typing_max_ms": 300}
    token = reply_token(tenant(settings))
    started = time.monotonic()
    answer = send(evolution, service_headers, token, "x" * 50 + "\n\n" + "y" * 500)
    elapsed = time.monotonic() - started

    assert answer["outcome"] == "sent"
    kinds = [(c["kind"], c["body"].get("delay")) for c in sandbox.calls() if c["kind"] != "connectionState"]
    assert kinds == [("sendPresence", 100), ("sendText", None), ("sendPresence", 300), ("sendText", None)]
    presence = sandbox.calls("sendPresence")[0]["body"]
    assert presence == {"number": NUMBER, "presence": "composing", "delay": 100}
    assert elapsed >= 0.4  # the sandbox held each presence call open for its delay


def test_the_owner_typing_during_the_typing_delay_cancels_the_reply(
        evolution, service_headers, sandbox, tenant, reply_token, db_conn):
    import psycopg2
    import psycopg2.extras

    row = tenant({"typing": True, "time_per_char": 0, "typing_min_ms": 600, "typing_max_ms": 600})
    token = reply_token(row)

    def owner_types():
        time.sleep(0.2)
        conn = psycopg2.connect(db_conn.dsn, cursor_factory=psycopg2.extras.RealDictCursor)
        with conn, conn.cursor() as cur:
            tokens.pause_session(cur, row["id"], CHAT, "human_takeover")
        conn.close()

    owner = threading.Thread(target=owner_types)
    owner.start()
    answer = send(evolution, service_headers, token)
    owner.join()

    assert answer["outcome"] == "cancelled"
    assert answer["reason"] == "human_takeover"
    assert sandbox.calls("sendText") == []
    assert len(sandbox.calls("sendPresence")) == 1


def test_a_chat_known_only_by_its_lid_fails_clearly_instead_of_sending(
        evolution, service_headers, sandbox, tenant, reply_token, db_conn):
    token = reply_token(tenant(), chat_id="123456789012345@lid")
    answer = send(evolution, service_headers, token)

    assert answer["outcome"] == "failed"
    assert "@lid" in answer["error"]
    assert sandbox.calls("sendText") == []
    assert token_row(db_conn, token)["state"] == "failed"


def test_the_bots_echo_can_reach_n8n_before_the_send_answer(send_new_reply, sandbox, receiver, db_conn):
    # echo "before": the webhook is delivered before sendText answers, while the
    # ledger holds the claimed part (with its text) but not yet its id
    sandbox.knobs(echo="before")
    sandbox.hook(receiver.url)
    token, answer = send_new_reply()

    [echo] = receiver.bodies("send.message")
    assert echo["data"]["key"]["id"] == answer["wa_message_ids"][0]
    assert echo["data"]["message"]["conversation"] == ledger(db_conn, token)[0]["text"]


@pytest.mark.parametrize("body, field", [
    ({"text": "hi"}, "reply_token"),
    ({"reply_token": "not-a-uuid", "text": "hi"}, "reply_token"),
    ({"reply_token": "8f3b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"}, "text"),
    ({"reply_token": "8f3b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f", "text": " \n\n "}, "text"),
    ({"reply_token": "8f3b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f", "text": "hi", "handoff": "yes"}, "handoff"),
])
def test_a_malformed_send_request_is_refused_naming_the_field(body, field, evolution, service_headers):
    resp = evolution.post("/send", json=body, headers=service_headers)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == field


def test_an_unknown_reply_token_is_a_404(evolution, service_headers, clean_db):
    resp = evolution.post("/send", json={"reply_token": "8f3b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f", "text": "hi"},
                          headers=service_headers)
    assert resp.status_code == 404


def test_send_requires_the_service_token(evolution):
    resp = evolution.post("/send", json={})
    assert resp.status_code == 401
