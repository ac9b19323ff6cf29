"""Business hours, limits and notifications on the real n8n: the inbound
flow's routes "Closed: send the away message", "Too many replies in this
chat: stop and tell the team" and "Over today's budget", with the real
services, the sandbox as Evolution (its page's phones) and the fake LLM."""
from __future__ import annotations

import time

import pytest

# fake_llm and sandbox: the fixtures of tests/flow/conftest.py
from .helpers import Chat, new_chat, wait_for

pytestmark = pytest.mark.flow

QUIET_SECONDS = 2.5  # how long "nothing more happens" is watched for
# a shop that never opens, whatever the clock says
NEVER_OPEN = {"timezone": "America/Sao_Paulo", "business_hours": {}}


def test_a_customer_writing_while_closed_gets_exactly_one_away_message(flow_stack, fake_llm, sandbox):
    away = "Olá! Estamos fechados agora; respondemos assim que abrirmos."
    chat = new_chat(flow_stack, settings={**NEVER_OPEN, "outside_hours": "away_message", "away_message": away})
    for text in ("oi", "alguém aí?", "preciso de ajuda"):
        chat.customer_says(text)
    assert chat.wait_for_bot_replies(1) == [away]
    wait_for("the away message's echo is recorded", lambda: "bot_echo" in chat.decisions())
    chat.customer_says("e agora?")
    time.sleep(QUIET_SECONDS)
    assert len(chat.bot_replies()) == 1
    assert [d for d in chat.decisions() if d != "bot_echo"] == ["outside_hours"] * 4
    assert fake_llm.requests() == []
    assert not chat.session()["paused"]


def test_closed_in_reply_mode_the_bot_answers_and_knows_when_the_shop_opens(flow_stack, fake_llm, sandbox):
    fake_llm.script(rules=[{"when": "pick up", "text": "We're closed now; you can pick it up from Thursday 09:00."}])
    chat = new_chat(flow_stack, settings={"timezone": "America/Sao_Paulo", "closed_until": "2099-01-01T09:00",
                                          "business_hours": {"thu": [["09:00", "18:00"]]}})
    chat.customer_says("Can I pick up my order today?")
    assert chat.wait_for_bot_replies(1) == ["We're closed now; you can pick it up from Thursday 09:00."]
    assert fake_llm.prompts_containing("The shop is closed now; it opens Thu 01 Jan 09:00 (São Paulo time)")
    assert chat.decisions()[0] == "outside_hours"


def test_a_chat_over_its_hourly_limit_stops_and_the_owners_phone_is_told_once(flow_stack, fake_llm, sandbox):
    owner_number = "5511977700017"
    chat = new_chat(flow_stack, settings={"max_replies_per_chat_per_hour": 2, "notify_owner_phone": f"+{owner_number}"})
    owner_phone = Chat(flow_stack, chat.tenant, chat.secret, owner_number)
    for n in (1, 2):
        chat.customer_says(f"question {n}")
        chat.wait_for_bot_replies(n)
        wait_for("the reply is recorded as sent", lambda n=n: [t["state"] for t in chat.tokens()] == ["sent"] * n)
    for n in (3, 4, 5):
        chat.customer_says(f"question {n}")
    [told] = wait_for("the owner's phone shows the notification", owner_phone.bot_replies)
    assert "reached the bot's hourly limit" in told and f"+{chat.number}" in told
    wait_for("the notification's echo is recorded", lambda: "bot_echo" in owner_phone.decisions())
    time.sleep(QUIET_SECONDS)
    assert len(chat.bot_replies()) == 2
    assert len(owner_phone.bot_replies()) == 1
    assert [d for d in chat.decisions() if d != "bot_echo"] == ["reply", "reply", "rate_limited", "ignore", "ignore"]
    # the notification is the bot's own message: neither chat is paused
    assert not chat.session()["paused"] and not owner_phone.session()["paused"]
    assert "human_takeover" not in owner_phone.decisions()


def test_a_tenant_over_its_daily_budget_falls_back_to_the_offline_provider(flow_stack, fake_llm, sandbox):
    chat = new_chat(flow_stack, settings={"daily_llm_budget_usd": 0.5, "over_budget": "offline",
                                          "handoff_message": "A person from our team will answer you soon."})
    # today's spend so far: one earlier reply of a priced model (US$ 2.50 at gpt-4o's price)
    chat.query("WITH s AS (INSERT INTO sessions (tenant_id, chat_id) VALUES (%s, '5511900000777@s.whatsapp.net')"
               " RETURNING id) INSERT INTO reply_tokens (tenant_id, session_id, chat_id, state, deadline_at,"
               " finished_at, llm_outcome, llm_model, tokens_in, tokens_out) SELECT %s, s.id,"
               " '5511900000777@s.whatsapp.net', 'sent', now(), now(), 'text', 'gpt-4o', 1000000, 0 FROM s"
               " RETURNING id", chat.tenant["id"], chat.tenant["id"])
    chat.customer_says("Do you deliver to Londrina?")
    # the offline provider has no knowledge base to answer from: it hands the chat to a person
    assert chat.wait_for_bot_replies(1) == ["A person from our team will answer you soon."]
    assert fake_llm.prompts_containing("Londrina") == []
    assert chat.decisions()[0] == "over_budget"
