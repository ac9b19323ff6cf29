"""Reply tokens and the send guard, called in-process as the llm and evolution
services call them (tokens.py), against the real database."""
from __future__ import annotations

import pytest

from python_services.core import ledger as tokens
from python_services.common.errors import ApiError
from tests.rows import token_row

from .conftest import CHAT, add_message, at_once


def outbound_rows(db_conn, token_id):
    with db_conn.cursor() as cur:
        cur.execute("SELECT * FROM outbound WHERE reply_token_id = %s ORDER BY part", (token_id,))
        return cur.fetchall()


def session_row(db_conn, chat_id=CHAT):
    with db_conn.cursor() as cur:
        cur.execute("SELECT * FROM sessions WHERE chat_id = %s", (chat_id,))
        return cur.fetchone()


def test_a_burst_of_customer_messages_is_answered_once_with_every_text(tx, customer_says, db_conn):
    first = customer_says("Oi!")
    second = customer_says("Vocês têm o tênis azul?")
    old, new = tx(tokens.check_token, first), tx(tokens.check_token, second)
    assert old["newest"] is False and old["state"] == "superseded" and old["reason"] == "newer_message"
    assert old["texts"] == []
    assert new["newest"] is True and new["state"] == "pending"
    assert new["texts"] == ["Oi!", "Vocês têm o tênis azul?"]
    assert new["chat_id"] == CHAT
    assert token_row(db_conn, first)["superseded_by"] == second


def test_the_send_guard_claims_a_newest_token_and_records_every_part(tx, customer_says, db_conn, tenant):
    token = customer_says("Oi!")
    claim = tx(tokens.claim_send, token, ["Olá!", "Como posso ajudar?"])
    assert claim["claimed"] is True
    assert claim["number"] == "5511987654321"
    assert claim["instance"] == tenant["instance_name"]
    rows = outbound_rows(db_conn, token)
    assert [r["id"] for r in rows] == claim["outbound_ids"]
    assert [(r["part"], r["text"], r["state"]) for r in rows] == [(0, "Olá!", "claimed"), (1, "Como posso ajudar?", "claimed")]
    assert token_row(db_conn, token)["state"] == "claimed"


def test_a_superseded_token_is_never_sent(tx, customer_says, db_conn):
    token = customer_says("Oi!")
    customer_says("Tem alguém aí?")
    claim = tx(tokens.claim_send, token, ["Olá!"])
    assert claim == {"claimed": False, "state": "superseded", "reason": "newer_message"}
    assert outbound_rows(db_conn, token) == []


@pytest.mark.parametrize("pause_reason, expected_reason", [
    ("human_takeover", "human_takeover"),
    ("manual", "manual"),
    ("owner_command", "owner_command"),
    ("customer_request", "customer_request"),
])
def test_a_reply_in_a_chat_paused_meanwhile_is_cancelled(tx, customer_says, db_conn, tenant, pause_reason, expected_reason):
    token = customer_says("Oi!")
    tx(tokens.pause_session, tenant["id"], CHAT, pause_reason)
    claim = tx(tokens.claim_send, token, ["Olá!"])
    assert claim == {"claimed": False, "state": "cancelled", "reason": expected_reason}
    assert outbound_rows(db_conn, token) == []


def test_a_paused_chat_refuses_a_token_that_was_somehow_left_pending(tx, customer_says, db_conn):
    token = customer_says("Oi!")
    # a pause written without cancelling the token (say, by hand in SQL)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE sessions SET paused = true, pause_reason = 'human_takeover', paused_at = now()")
    assert tx(tokens.check_token, token)["newest"] is False
    claim = tx(tokens.claim_send, token, ["Olá!"])
    assert claim == {"claimed": False, "state": "cancelled", "reason": "human_takeover"}


def test_a_person_writing_after_the_token_cancels_the_reply_even_without_a_pause(tx, customer_says, db_conn, tenant):
    token = customer_says("Oi!")
    tx(add_message, tenant["id"], CHAT, "OWNER1", "Oi Maria, já te atendo", "business")
    claim = tx(tokens.claim_send, token, ["Olá!"])
    assert claim == {"claimed": False, "state": "cancelled", "reason": "human_takeover"}


def test_a_person_writing_before_the_token_does_not_block_it(tx, customer_says, tenant):
    tx(add_message, tenant["id"], CHAT, "OWNER0", "Bom dia", "business")
    token = customer_says("Oi!")
    assert tx(tokens.claim_send, token, ["Olá!"])["claimed"] is True


def test_a_token_is_claimed_once(tx, customer_says):
    token = customer_says("Oi!")
    assert tx(tokens.claim_send, token, ["Olá!"])["claimed"] is True
    again = tx(tokens.claim_send, token, ["Olá!"])
    assert again == {"claimed": False, "state": "claimed", "reason": "already_claimed"}


@pytest.mark.parametrize("parts, field", [([], "parts"), ("Olá", "parts"), (["ok", ""], "parts[1]"), ([3], "parts[0]")])
def test_claiming_without_proper_parts_names_the_field(tx, customer_says, parts, field):
    token = customer_says("Oi!")
    with pytest.raises(ApiError) as err:
        tx(tokens.claim_send, token, parts)
    assert (err.value.status, err.value.field) == (400, field)


@pytest.mark.parametrize("token_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_an_unknown_token_is_not_found(tx, token_id):
    with pytest.raises(ApiError) as err:
        tx(tokens.check_token, token_id)
    assert err.value.status == 404


def test_confirming_every_part_marks_the_token_sent_and_writes_history(tx, customer_says, db_conn):
    token = customer_says("Oi!")
    tx(tokens.claim_send, token, ["Olá!", "Como posso ajudar?"])
    assert tx(tokens.confirm_send, token, 0, "BOT0")["state"] == "claimed"
    assert tx(tokens.confirm_send, token, 1, "BOT1")["state"] == "sent"
    assert [(r["state"], r["wa_message_id"]) for r in outbound_rows(db_conn, token)] == [("sent", "BOT0"), ("sent", "BOT1")]
    with db_conn.cursor() as cur:
        cur.execute("SELECT author, text FROM messages WHERE author = 'bot' ORDER BY id")
        assert [(r["author"], r["text"]) for r in cur.fetchall()] == [("bot", "Olá!"), ("bot", "Como posso ajudar?")]
    assert token_row(db_conn, token)["finished_at"] is not None
    assert session_row(db_conn)["last_bot_at"] is not None


def test_confirming_the_same_part_twice_is_harmless(tx, customer_says):
    token = customer_says("Oi!")
    tx(tokens.claim_send, token, ["Olá!"])
    assert tx(tokens.confirm_send, token, 0, "BOT0")["state"] == "sent"
    assert tx(tokens.confirm_send, token, 0, "BOT0")["state"] == "sent"


def test_a_sent_handoff_reply_pauses_the_chat_until_a_person_resumes_it(tx, customer_says, db_conn):
    token = customer_says("Quero falar com alguém")
    tx(tokens.claim_send, token, ["Já chamo alguém da equipe."], handoff=True)
    tx(tokens.confirm_send, token, 0, "BOT0")
    session = session_row(db_conn)
    assert (session["paused"], session["pause_reason"], session["paused_until"]) == (True, "handoff", None)


def test_a_failed_reply_keeps_its_error_and_a_later_failure_changes_nothing(tx, customer_says, db_conn):
    token = customer_says("Oi!")
    tx(tokens.claim_send, token, ["Olá!"])
    assert tx(tokens.fail_token, token, "Evolution answered 500") == {
        "state": "failed", "reason": None, "error": "Evolution answered 500"}
    assert tx(tokens.fail_token, token, "another error")["error"] == "Evolution answered 500"
    assert outbound_rows(db_conn, token)[0]["state"] == "failed"


def test_failing_a_sent_token_keeps_it_sent(tx, customer_says):
    token = customer_says("Oi!")
    tx(tokens.claim_send, token, ["Olá!"])
    tx(tokens.confirm_send, token, 0, "BOT0")
    assert tx(tokens.fail_token, token, "late timeout")["state"] == "sent"


def test_cancelling_a_token_ends_it_once(tx, customer_says):
    token = customer_says("Oi!")
    assert tx(tokens.cancel_token, token, "operator") == {"state": "cancelled", "reason": "operator"}
    assert tx(tokens.cancel_token, token, "again") == {"state": "cancelled", "reason": "operator"}


def test_the_llm_result_is_recorded_on_the_token(tx, customer_says, db_conn):
    token = customer_says("Oi!")
    tx(tokens.record_llm_result, token, provider="offline", model="echo", outcome="text",
       tokens_in=12, tokens_out=5, latency_ms=42.7, text="Olá!")
    row = token_row(db_conn, token)
    assert (row["llm_provider"], row["llm_model"], row["llm_outcome"], row["tokens_in"], row["tokens_out"],
            row["llm_latency_ms"], row["reply_text"], row["state"]) == ("offline", "echo", "text", 12, 5, 43, "Olá!", "pending")


def test_recovery_retries_a_stuck_token_a_few_times_then_fails_it(tx, customer_says, db_conn):
    token = customer_says("Oi!", deadline_seconds=0)
    for attempt in range(1, 4):
        with db_conn.cursor() as cur:
            cur.execute("UPDATE reply_tokens SET deadline_at = now() - interval '1 second'")
        found = tx(tokens.recover_tokens, 0, 3)
        assert found == {"retry": [{"reply_token": str(token), "tenant_id": found["retry"][0]["tenant_id"],
                                    "chat_id": CHAT}], "failed": 0}
        assert token_row(db_conn, token)["attempts"] == attempt
    with db_conn.cursor() as cur:
        cur.execute("UPDATE reply_tokens SET deadline_at = now() - interval '1 second'")
    assert tx(tokens.recover_tokens, 0, 3) == {"retry": [], "failed": 1}
    row = token_row(db_conn, token)
    assert row["state"] == "failed" and "3 recovery attempts" in row["error"]


def test_recovery_fails_a_claimed_send_that_was_never_confirmed(tx, customer_says, db_conn):
    token = customer_says("Oi!", deadline_seconds=0)
    tx(tokens.claim_send, token, ["Olá!"])
    assert tx(tokens.recover_tokens, 0, 3) == {"retry": [], "failed": 1}
    assert token_row(db_conn, token)["state"] == "failed"
    assert outbound_rows(db_conn, token)[0]["state"] == "failed"


def test_recovery_leaves_tokens_within_their_deadline(tx, customer_says):
    customer_says("Oi!", deadline_seconds=600)
    assert tx(tokens.recover_tokens, 0, 3) == {"retry": [], "failed": 0}


def test_a_takeover_racing_the_send_guard_never_lets_a_claim_outlive_it(tx, customer_says, db_conn, tenant):
    """Whichever wins the session lock, the reply ends cancelled: either the
    guard refuses, or the takeover cancels the claimed token."""
    for round_ in range(15):
        token = customer_says(f"Oi {round_}")
        results = {}

        def claim():
            results["claim"] = tx(tokens.claim_send, token, ["Olá!"])

        def takeover():
            tx(tokens.pause_session, tenant["id"], CHAT, "human_takeover")

        at_once(claim, takeover)
        assert token_row(db_conn, token)["state"] == "cancelled"
        # ledger rows exist only for a claim that won the lock before the takeover
        assert bool(outbound_rows(db_conn, token)) is results["claim"]["claimed"]
        tx(tokens.resume_session, session_row(db_conn)["id"])
