"""What the flow is told and what the token keeps: the handoff marker,
WhatsApp formatting and length, and tokens that are no longer the newest."""
from __future__ import annotations

import threading

from python_services.core import ledger as tokens


def test_the_handoff_marker_becomes_a_handoff_and_is_never_sent(chat, reply, fake_llm, token_row):
    fake_llm.enqueue({"text": "Let me call someone from the team for you. [[HANDOFF]]"})

    answer = reply(chat.customer_says("I want to talk to the manager"))

    assert (answer["outcome"], answer["handoff"]) == ("handoff", True)
    assert answer["text"] == "Let me call someone from the team for you."
    row = token_row(chat.token)
    assert row["handoff"] is True and row["llm_outcome"] == "handoff"
    assert "HANDOFF" not in row["reply_text"]


def test_a_marker_alone_sends_the_tenants_handoff_message(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"handoff_message": "Um momento, vou chamar alguém da equipe."})
    fake_llm.enqueue({"text": "[[handoff]]\n(internal: angry customer)"})
    answer = reply(chat.customer_says("Quero falar com uma pessoa"))
    assert (answer["outcome"], answer["text"]) == ("handoff", "Um momento, vou chamar alguém da equipe.")


def test_markdown_from_the_model_reaches_whatsapp_as_whatsapp_formatting(chat, reply, fake_llm):
    fake_llm.enqueue({"text": "## Our plans\n\n| Plan | Price |\n|---|---|\n| Basic | $10 |\n| Pro | $20 |\n\n"
                              "**Pro** is ~~$25~~ $20 now. See [the site](https://acme.example)."})
    answer = reply(chat.customer_says("Prices?"))
    assert answer["text"] == ("*Our plans*\n\n- Plan: Basic, Price: $10\n- Plan: Pro, Price: $20\n\n"
                              "*Pro* is ~$25~ $20 now. See the site (https://acme.example).")


def test_a_long_reply_is_cut_at_a_sentence_end_within_max_reply_chars(chat, tenant, set_tenant, reply, fake_llm, token_row):
    set_tenant(tenant, settings={"max_reply_chars": 60})
    fake_llm.enqueue({"text": "We open at nine. We close at six. On Saturdays we open at ten and close at two."})
    token = chat.customer_says("Hours?")
    answer = reply(token)
    assert answer["text"] == "We open at nine. We close at six."
    assert answer["reply_token"] == str(token)  # handed on to the flow's send node
    assert token_row(chat.token)["reply_text"] == answer["text"]


def test_a_token_superseded_by_a_newer_message_is_not_answered(chat, reply, fake_llm, token_row):
    old = chat.customer_says("Hi")
    chat.customer_says("Are you there?")

    answer = reply(old)

    # the token is handed on: the flow's send node reads it from this answer
    assert answer == {"outcome": "superseded", "state": "superseded", "reason": "newer_message",
                      "reply_token": str(old)}
    assert fake_llm.requests == []
    assert token_row(old)["llm_outcome"] is None


def test_a_paused_chat_is_not_answered(chat, tenant, reply, tx, fake_llm):
    token = chat.customer_says("Hi")
    tx(tokens.pause_session, tenant["id"], chat.chat_id, "manual")
    answer = reply(token)
    assert answer["outcome"] == "superseded" and answer["state"] == "cancelled"
    assert fake_llm.requests == []


def test_a_message_arriving_while_the_model_thinks_supersedes_the_reply_but_its_cost_is_kept(
        chat, reply, fake_llm, token_row):
    token = chat.customer_says("First")
    fake_llm.enqueue({"delay": 0.5, "text": "Answer to first", "tokens_in": 30, "tokens_out": 4})
    arrives = threading.Timer(0.15, chat.customer_says, args=("Second",))
    arrives.start()

    answer = reply(token)
    arrives.join()

    assert answer == {"outcome": "superseded", "state": "superseded", "reason": "newer_message",
                      "reply_token": str(token)}
    row = token_row(token)
    assert (row["llm_outcome"], row["tokens_in"], row["tokens_out"]) == ("text", 30, 4)


def test_a_failure_on_a_token_that_ended_meanwhile_keeps_its_end(chat, tenant, set_tenant, reply, fake_llm, token_row):
    set_tenant(tenant, settings={"fallback_providers": []})
    token = chat.customer_says("First")
    fake_llm.enqueue({"delay": 0.2, "status": 500, "api": "anthropic", "times": 3})
    arrives = threading.Timer(0.05, chat.customer_says, args=("Second",))
    arrives.start()

    answer = reply(token)
    arrives.join()

    assert answer["outcome"] == "superseded"
    assert token_row(token)["state"] == "superseded"


def test_a_token_without_any_customer_message_fails_visibly(tenant, tx, reply, fake_llm, token_row):
    from .conftest import CHAT

    def bare_token(cur):
        return str(tokens.create_token(cur, tokens.lock_session(cur, tenant["id"], CHAT), 120)["id"])

    token = tx(bare_token)
    answer = reply(token)
    assert answer["outcome"] == "failed" and "no customer message" in answer["error"]
    assert token_row(token)["state"] == "failed"
    assert fake_llm.requests == []
