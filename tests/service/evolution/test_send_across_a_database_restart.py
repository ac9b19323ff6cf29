"""A reply that reached WhatsApp is recorded even when the database drops the
connection right then (a Postgres restart): otherwise the ledger would not
know its id, and its echo would pass for a person typing and pause the chat."""
from __future__ import annotations

import psycopg2

from python_services.evolution import sending

from .test_send import ledger, send, token_row


def test_the_confirm_of_a_sent_message_is_retried_when_the_connection_breaks(
        evolution, service_headers, sandbox, tenant, reply_token, db_conn, monkeypatch):
    token = reply_token(tenant())
    real_confirm, calls = sending._confirm, []

    def confirm_after_a_drop(*args):
        calls.append(args)
        if len(calls) == 1:
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        return real_confirm(*args)

    monkeypatch.setattr(sending, "_confirm", confirm_after_a_drop)
    answer = send(evolution, service_headers, token)

    assert answer["outcome"] == "sent"
    assert len(calls) == 2
    assert len(sandbox.calls("sendText")) == 1  # sent once, recorded on the second try
    [row] = ledger(db_conn, token)
    assert (row["state"], row["wa_message_id"]) == ("sent", answer["wa_message_ids"][0])
    assert token_row(db_conn, token)["state"] == "sent"
