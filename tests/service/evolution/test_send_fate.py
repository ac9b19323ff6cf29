"""Sends that cannot duplicate (issue 12): after a read timeout or a 5xx the
send's fate is unknown; the reply is never sent again blindly. The truth
comes from Evolution's message list (/chat/findMessages) or from the echo,
and the customer gets at most one copy."""
from __future__ import annotations

import threading
import time

import pytest

from python_services.core import ledger, send_fate
from python_services.evolution.app import create_app
from tests.rows import rows, token_row

from .conftest import CHAT, INSTANCE, NUMBER

TEXT = "Temos sim! O Runner Azul 38 custa R$ 249,90."


@pytest.fixture
def evolution_with(make_app, service_config, service_headers):
    """evolution_with(**env) -> send(token, text) with the evolution service
    configured by those variables (short timeouts, a short fate wait)."""

    def make(**env):
        client = make_app(create_app, {**service_config, "EVO_RETRY_BACKOFF": "0.001", **env}).test_client()

        def send(token, text=TEXT):
            resp = client.post("/send", json={"reply_token": token, "text": text}, headers=service_headers)
            assert resp.status_code == 200, resp.get_data(as_text=True)
            return resp.get_json()

        return send

    return make


@pytest.fixture
def a_reply_sent(evolution_with, sandbox, tenant, reply_token):
    """a_reply_sent(env, text=TEXT, **knobs) -> (token, answer): the sandbox
    set by the knobs, then a new tenant's reply token sent through the
    evolution service configured by env (what most cases here start with)."""

    def send_one(env: dict, text: str = TEXT, **knobs):
        send = evolution_with(**env)
        sandbox.knobs(**knobs)
        token = reply_token(tenant())
        return token, send(token, text)

    return send_one


def phone(sandbox) -> list[str]:
    """What reached the customer's phone from the bot."""
    msgs = sandbox.get("/sandbox/messages", params={"instance": INSTANCE, "number": NUMBER}).json()["messages"]
    return [m["text"] for m in msgs if m["author"] == "bot"]


def parts(db_conn, token) -> list[dict]:
    return rows(db_conn, "SELECT part, state, wa_message_id, confirmed_by, error, tried_at FROM outbound"
                         " WHERE reply_token_id = %s ORDER BY part", token)


def wait_until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_evolution_sending_after_the_timeout_gets_the_reply_through_once_confirmed_from_its_message_list(
        a_reply_sent, sandbox, db_conn):
    # the message goes out 0.5 s after the client gave up waiting
    token, answer = a_reply_sent({"EVO_TIMEOUT": "0.3", "EVO_SEND_ATTEMPTS": "3", "EVO_FATE_WAIT_SECONDS": "5"},
                                 send_delay_ms=800)

    assert (answer["outcome"], answer["reason"]) == ("sent", "confirmed_by_evolution")
    [sent] = sandbox.calls("sendText")
    assert answer["wa_message_ids"] == [sent["message_id"]]
    assert phone(sandbox) == [TEXT]
    assert sandbox.calls("findMessages")[0]["body"] == {
        "where": {"key": {"remoteJid": CHAT, "fromMe": True}}, "offset": 20, "page": 1}
    t = token_row(db_conn, token)
    assert (t["state"], t["reason"]) == ("sent", "confirmed_by_evolution")
    [part] = parts(db_conn, token)
    assert (part["state"], part["confirmed_by"], part["wa_message_id"]) == ("sent", "evolution", sent["message_id"])
    assert "did not answer within 0.3 s" in part["error"]  # the part keeps its story


def test_an_answer_held_past_the_timeout_after_sending_is_not_sent_twice(
        a_reply_sent, sandbox, db_conn):
    # sent at once, answered late
    token, answer = a_reply_sent({"EVO_TIMEOUT": "0.3", "EVO_SEND_ATTEMPTS": "3"}, answer_delay_ms=800)

    assert answer["outcome"] == "sent"
    assert len(sandbox.calls("sendText")) == 1
    assert phone(sandbox) == [TEXT]
    assert token_row(db_conn, token)["reason"] == "confirmed_by_evolution"
    time.sleep(0.6)  # the held answer finishes before the next test


def test_a_5xx_after_evolution_really_sent_it_is_confirmed_and_not_sent_again(
        a_reply_sent, sandbox, db_conn):
    token, answer = a_reply_sent({"EVO_SEND_ATTEMPTS": "3"}, fail_next_after_sending=1, fail_status=500)

    assert (answer["outcome"], answer["reason"]) == ("sent", "confirmed_by_evolution")
    assert [(c["status"], c.get("sent_before_failing")) for c in sandbox.calls("sendText")] == [(500, True)]
    assert phone(sandbox) == [TEXT]
    t = token_row(db_conn, token)
    assert (t["state"], t["reason"], t["error"]) == ("sent", "confirmed_by_evolution", None)


def test_a_reply_in_several_messages_sends_each_once_when_one_fails_after_sending(
        a_reply_sent, sandbox, db_conn):
    token, answer = a_reply_sent({"EVO_SEND_ATTEMPTS": "3"}, text="Olá Maria!\n\nTemos sim.", fail_next_after_sending=1)

    assert answer["outcome"] == "sent" and len(answer["wa_message_ids"]) == 2
    assert phone(sandbox) == ["Olá Maria!", "Temos sim."]
    assert [(p["state"], p["confirmed_by"]) for p in parts(db_conn, token)] == [
        ("sent", "evolution"), ("sent", "answer")]
    assert token_row(db_conn, token)["reason"] == "confirmed_by_evolution"


def test_a_5xx_is_sent_again_only_after_evolution_says_it_has_no_such_message(
        a_reply_sent, sandbox, db_conn):
    # failed before sending
    token, answer = a_reply_sent({"EVO_SEND_ATTEMPTS": "3"}, fail_next_sends=1, fail_status=500)

    assert answer["outcome"] == "sent" and "reason" not in answer
    kinds = [(c["kind"], c["status"]) for c in sandbox.calls() if c["kind"] in ("sendText", "findMessages")]
    assert kinds[0] == ("sendText", 500) and kinds[-1] == ("sendText", 201)
    assert set(kinds[1:-1]) == {("findMessages", 200)}
    assert phone(sandbox) == [TEXT]
    [part] = parts(db_conn, token)
    assert (part["state"], part["confirmed_by"]) == ("sent", "answer")


def test_a_gateway_that_keeps_failing_before_sending_fails_the_reply_as_not_sent(
        a_reply_sent, sandbox, db_conn):
    token, answer = a_reply_sent({"EVO_SEND_ATTEMPTS": "2"}, fail_next_sends=5, fail_status=500)

    assert answer["outcome"] == "failed"
    assert answer["error"].startswith("not sent: Evolution has no such message (Evolution failed (500")
    assert answer["error"].endswith("(after 2 attempts)")
    assert [c["status"] for c in sandbox.calls("sendText")] == [500, 500]
    assert phone(sandbox) == []
    assert [p["state"] for p in parts(db_conn, token)] == ["failed"]
    assert token_row(db_conn, token)["error"] == answer["error"]


def test_when_evolution_cannot_say_whether_it_sent_the_reply_fails_and_is_never_sent_twice(
        a_reply_sent, sandbox, db_conn):
    token, answer = a_reply_sent({"EVO_SEND_ATTEMPTS": "3"},
                                 fail_next_sends=1, fail_status=500, fail_find_messages=True)

    assert answer["outcome"] == "failed"
    assert answer["error"].startswith("fate unknown: Evolution failed (500")
    assert "not sent again" in answer["error"]
    assert len(sandbox.calls("sendText")) == 1
    # still matched as the bot's, should its echo come late
    assert [p["state"] for p in parts(db_conn, token)] == ["unknown"]
    assert token_row(db_conn, token)["state"] == "failed"


def test_a_send_evolution_never_answered_nor_shows_is_given_up_without_a_second_send(
        a_reply_sent, sandbox, db_conn):
    token, answer = a_reply_sent({"EVO_TIMEOUT": "0.3", "EVO_SEND_ATTEMPTS": "3", "EVO_FATE_WAIT_SECONDS": "1"},
                                 send_delay_ms=2500)

    assert answer["outcome"] == "failed"
    assert answer["error"].startswith("not sent: Evolution has no such message (Evolution did not answer within 0.3 s")
    assert "not sent again so the customer cannot get it twice" in answer["error"]
    [part] = parts(db_conn, token)
    assert (part["state"], part["wa_message_id"]) == ("failed", None)
    assert part["tried_at"] is not None  # its late echo is matched from here (collision tests)
    # Evolution was only slow: the one copy lands later, and no second one follows
    wait_until(lambda: phone(sandbox))
    assert phone(sandbox) == [TEXT] and len(sandbox.calls("sendText")) == 1


def test_the_echo_arriving_while_the_send_waits_for_the_truth_confirms_it(
        evolution_with, sandbox, tenant, reply_token, db_conn, tx):
    send = evolution_with(EVO_TIMEOUT="0.3", EVO_SEND_ATTEMPTS="3", EVO_FATE_WAIT_SECONDS="10")
    sandbox.knobs(send_delay_ms=800, fail_find_messages=True)  # only the echo can tell
    row = tenant()
    token = reply_token(row)

    def collision_receives_the_echo():
        # what the collision service does with the send.message webhook (see
        # tests/service/collision/test_send_fate_echo.py), once the send is unknown
        wait_until(lambda: [p for p in parts(db_conn, token) if p["state"] == "unknown"])
        sent = wait_until(lambda: [c for c in sandbox.calls("sendText") if c["status"] == 201])[0]
        outbound_id = rows(db_conn, "SELECT id FROM outbound WHERE reply_token_id = %s", token)[0]["id"]

        def echo(cur):
            ledger.lock_session(cur, row["id"], CHAT)
            send_fate.echo_matched(cur, outbound_id, sent["message_id"])

        tx(echo)

    echo_thread = threading.Thread(target=collision_receives_the_echo)
    echo_thread.start()
    answer = send(token)
    echo_thread.join()

    assert (answer["outcome"], answer["reason"]) == ("sent", "confirmed_by_echo")
    assert answer["wa_message_ids"] == [sandbox.calls("sendText")[0]["message_id"]]
    assert phone(sandbox) == [TEXT]
    assert [(p["state"], p["confirmed_by"]) for p in parts(db_conn, token)] == [("sent", "echo")]
