"""The echo of a send whose fate was unknown, or that was recorded as failed:
it is the bot coming back, never a person, and it tells the timeline that the
reply went out after all (issue 12)."""
from __future__ import annotations

from python_services.core import ledger, send_fate
from tests.rows import rows, token_row

from .conftest import CHAT, fresh

TEXT = "Temos sim! O modelo Runner Azul 38 custa R$ 249,90."
ECHO_ID = "3EB0LATEECHO00000001"


def _customer_asks(deliver):
    resp = deliver(fresh("01_customer_text_pn", key_id="C1", message={"conversation": "Tem o azul 38?"}))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["reply_token"]


def _tried(tx, token, handoff=False):
    """The reply claimed and its sendText on its way, as the evolution service does."""
    assert tx(ledger.claim_send, token, [TEXT], handoff)["claimed"] is True
    assert tx(send_fate.send_tried, token, 0) is not None


def _echo(deliver, text=TEXT):
    resp = deliver(fresh("06_bot_own_send_echo_send.message", key_id=ECHO_ID, message={"conversation": text}))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _session(db_conn):
    return rows(db_conn, "SELECT paused, pause_reason FROM sessions WHERE chat_id = %s", CHAT)[0]


def _part(db_conn, token):
    return rows(db_conn, "SELECT state, wa_message_id, confirmed_by, error FROM outbound WHERE reply_token_id = %s",
                token)[0]


def test_a_late_echo_of_a_failed_send_is_the_bot_and_the_reply_turns_out_sent(deliver, tenant, tx, db_conn):
    token = _customer_asks(deliver)
    _tried(tx, token)
    tx(ledger.fail_token, token, "Evolution did not answer within 15 s")

    echo = _echo(deliver)

    assert echo["decision"] == "bot_echo"
    assert "recorded as failed: it was sent after all" in echo["reason"]
    assert _session(db_conn) == {"paused": False, "pause_reason": None}
    t = token_row(db_conn, token)
    assert (t["state"], t["reason"]) == ("sent", "confirmed_by_echo")
    assert t["error"] == "Evolution did not answer within 15 s"  # what went wrong on the way stays told
    part = _part(db_conn, token)
    assert (part["state"], part["wa_message_id"], part["confirmed_by"]) == ("sent", ECHO_ID, "echo")
    assert rows(db_conn, "SELECT author, reply_token_id FROM messages WHERE wa_message_id = %s", ECHO_ID) == [
        {"author": "bot", "reply_token_id": t["id"]}]


def test_an_echo_of_a_send_of_unknown_fate_confirms_it_while_the_send_waits(deliver, tenant, tx, db_conn):
    token = _customer_asks(deliver)
    _tried(tx, token)
    tx(send_fate.send_fate_unknown, token, 0, "Evolution failed (500 Internal Server Error): Connection Closed")
    assert _part(db_conn, token)["state"] == "unknown"

    echo = _echo(deliver)

    assert echo["decision"] == "bot_echo" and "whose fate was unknown" in echo["reason"]
    assert _session(db_conn)["paused"] is False
    # what the waiting send reads: the part is known, and the reply is sent
    assert tx(send_fate.send_part, token, 0)["wa_message_id"] == ECHO_ID
    t = token_row(db_conn, token)
    assert (t["state"], t["reason"]) == ("sent", "confirmed_by_echo")
    assert _part(db_conn, token)["error"].startswith("Evolution failed (500")  # the story stays on the part


def test_a_handoff_reply_found_sent_by_its_echo_hands_the_chat_over(deliver, tenant, tx, db_conn):
    token = _customer_asks(deliver)
    _tried(tx, token, handoff=True)
    tx(ledger.fail_token, token, "send not confirmed before the deadline")

    assert _echo(deliver)["decision"] == "bot_echo"

    assert token_row(db_conn, token)["state"] == "sent"
    assert _session(db_conn) == {"paused": True, "pause_reason": "handoff"}


def test_the_confirm_of_a_send_arriving_after_it_was_failed_turns_the_reply_sent(deliver, tenant, tx, db_conn):
    # the recovery flow failed it while Evolution was slow; then Evolution's list showed it
    token = _customer_asks(deliver)
    _tried(tx, token)
    tx(ledger.fail_token, token, "send not confirmed before the deadline")
    out = tx(ledger.confirm_send, token, 0, "3EB0FOUNDINLIST00001", "evolution")
    assert (out["state"], out["reason"]) == ("sent", "confirmed_by_evolution")


def test_an_echo_of_a_failed_send_after_the_echo_window_is_a_person(deliver, tenant, tx, db_conn):
    token = _customer_asks(deliver)
    _tried(tx, token)
    tx(ledger.fail_token, token, "Evolution did not answer within 15 s")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE outbound SET tried_at = now() - interval '2 minutes', claimed_at = now() - interval"
                    " '2 minutes' WHERE reply_token_id = %s", (token,))

    assert _echo(deliver)["decision"] == "human_takeover"
    assert token_row(db_conn, token)["state"] == "failed"


def test_a_part_that_never_went_out_is_not_matched_by_its_text(deliver, tenant, tx, db_conn):
    # claimed, then the reply failed before this part was tried (an earlier part failed)
    token = _customer_asks(deliver)
    assert tx(ledger.claim_send, token, [TEXT])["claimed"] is True
    tx(ledger.fail_token, token, "the number is not on WhatsApp")

    assert _echo(deliver)["decision"] == "human_takeover"
