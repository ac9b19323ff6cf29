"""The rules as a pure function: every decision, and the effects it asks for."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from python_services.core.decide import Facts, decide
from python_services.core.normalize import Event
from python_services.core.settings import effective_settings

NOW = datetime(2025, 10, 21, 12, 0, tzinfo=timezone.utc)
CHAT = "5511987654321@s.whatsapp.net"
SETTINGS = effective_settings({})

CUSTOMER = Event(instance="acme-store", event_type="messages.upsert", kind="message", chat_id=CHAT,
                 wa_message_id="CUST1", from_me=False, author="customer", message_type="conversation",
                 text="Oi! Tem o tênis azul?", sent_at=NOW - timedelta(seconds=2),
                 dedupe_key="messages.upsert:CUST1")
OWNER = replace(CUSTOMER, wa_message_id="OWN1", from_me=True, author="business", text="Oi Maria, é o João")
SEND = replace(OWNER, event_type="send.message", wa_message_id="BOT1", text="Temos sim!")
ACTIVE = {"paused": False, "pause_reason": None, "paused_until": None, "last_human_at": None}


def paused(reason, until=None):
    return {**ACTIVE, "paused": True, "pause_reason": reason, "paused_until": until}


def facts(**kw):
    return Facts(now=NOW, **kw)


def run(event, chat=ACTIVE, settings=None, **fact_kw):
    return decide(event, chat, effective_settings(settings or {}), facts(**fact_kw))


# (name, event, chat, settings, facts, decision, reason contains)
CASES = [
    ("a redelivery is a duplicate", CUSTOMER, ACTIVE, {}, {"duplicate_of": 7}, "duplicate", "event 7"),
    ("a connection update is ignored", replace(CUSTOMER, kind="other", event_type="connection.update"),
     ACTIVE, {}, {}, "ignore", "connection.update"),
    ("a read receipt is ignored", replace(CUSTOMER, kind="receipt", status="READ"), ACTIVE, {}, {}, "ignore", "READ"),
    ("an edit of a known message is stored", replace(CUSTOMER, kind="edit", chat_id=None), ACTIVE, {},
     {"target_known": True}, "ignore", "edit stored"),
    ("an edit of an unknown message is ignored", replace(CUSTOMER, kind="edit"), ACTIVE, {}, {}, "ignore",
     "not in history"),
    ("a deletion is stored", replace(OWNER, kind="revoke", author=None), ACTIVE, {}, {"target_known": True},
     "ignore", "deletion stored"),
    ("a group message is ignored", replace(CUSTOMER, chat_id="1203630@g.us"), None, {}, {}, "ignore", "group"),
    ("a status broadcast is ignored", replace(CUSTOMER, chat_id="status@broadcast"), None, {"ignore_groups": False},
     {}, "ignore", "status"),
    ("a newsletter is ignored", replace(CUSTOMER, chat_id="1203@newsletter"), None, {}, {}, "ignore", "newsletter"),
    ("an ignored number is ignored", CUSTOMER, ACTIVE, {"ignore_jids": ["5511987654321"]}, {}, "ignore",
     "ignore_jids"),
    ("an ignored jid is ignored", CUSTOMER, ACTIVE, {"ignore_jids": [CHAT]}, {}, "ignore", "ignore_jids"),
    ("a reaction changes nothing", replace(CUSTOMER, kind="reaction", text="👍"), ACTIVE, {}, {}, "ignore",
     "reaction"),
    ("the bot's send known by id is an echo", SEND, ACTIVE, {}, {"in_ledger": True}, "bot_echo", "ledger"),
    ("a customer message in an active chat gets a reply", CUSTOMER, ACTIVE, {}, {}, "reply", "active"),
    ("a new chat gets a reply", CUSTOMER, None, {}, {}, "reply", "active"),
    ("a customer in a paused chat gets no reply", CUSTOMER, paused("manual"), {}, {}, "paused", "paused"),
    ("an old replayed customer message is stale", replace(CUSTOMER, sent_at=NOW - timedelta(minutes=11)),
     ACTIVE, {}, {}, "stale", "11 minutes old"),
    ("the stale limit is the tenant's", replace(CUSTOMER, sent_at=NOW - timedelta(minutes=3)),
     ACTIVE, {"stale_after_minutes": 2}, {}, "stale", "stale_after_minutes 2"),
    ("a customer asking for a person is handed off", replace(CUSTOMER, text="Quero falar com um atendente"),
     ACTIVE, {}, {}, "handoff", "'atendente'"),
    ("handoff keywords are the tenant's", replace(CUSTOMER, text="quero o GERENTE"), ACTIVE,
     {"handoff_keywords": ["gerente"]}, {}, "handoff", "gerente"),
    ("a keyword inside another word is not a handoff", replace(CUSTOMER, text="isso é inhumano"), ACTIVE, {}, {},
     "reply", "active"),
    ("the owner typing is a takeover", OWNER, ACTIVE, {}, {}, "human_takeover", "paused until"),
    ("an unknown send.message is a takeover", SEND, ACTIVE, {}, {}, "human_takeover", "paused until"),
    ("the call-reject auto reply is not a person", replace(OWNER, author="system", status="PENDING"), ACTIVE, {}, {},
     "ignore", "call rejected"),
    ("#bot off pauses", replace(OWNER, text=" #BOT OFF "), ACTIVE, {}, {}, "command", "paused until resumed"),
    ("#bot on resumes", replace(OWNER, text="#bot on"), paused("owner_command"), {}, {}, "command",
     "was paused (owner_command)"),
    ("owner commands are the tenant's", replace(OWNER, text="!pausa"), ACTIVE,
     {"owner_commands": {"pause": "!pausa", "resume": "!volta"}}, {}, "command", "'!pausa'"),
]


@pytest.mark.parametrize("name, event, chat, settings, fact_kw, decision, reason", CASES, ids=[c[0] for c in CASES])
def test_each_rule_gives_its_decision_and_says_why(name, event, chat, settings, fact_kw, decision, reason):
    verdict = run(event, chat, settings, **fact_kw)
    assert verdict.decision == decision
    assert reason in verdict.reason


def test_a_reply_asks_for_a_token_and_stores_the_message():
    v = run(CUSTOMER)
    assert (v.reply, v.store_message, v.author, v.pause, v.notify) == (True, True, "customer", None, False)


def test_a_takeover_pauses_until_the_message_time_plus_resume_after_and_cancels_replies():
    v = run(OWNER, settings={"resume_after_minutes": 1.5})
    assert v.pause == ("human_takeover", OWNER.sent_at + timedelta(seconds=90))
    assert v.cancel_replies == "human_takeover"
    assert v.human_at == OWNER.sent_at
    assert v.notify is True and v.store_message is True and v.author == "business"


def test_a_further_human_message_pushes_the_pause_out_without_notifying_again():
    v = run(OWNER, paused("human_takeover", NOW + timedelta(minutes=5)))
    assert v.pause == ("human_takeover", OWNER.sent_at + timedelta(minutes=120))
    assert v.notify is False


def test_a_further_human_message_never_shortens_the_pause():
    later = NOW + timedelta(days=1)
    v = run(OWNER, paused("human_takeover", later))
    assert v.pause == ("human_takeover", later)


@pytest.mark.parametrize("reason", ["manual", "owner_command", "customer_request", "handoff"])
def test_a_person_writing_in_a_chat_paused_by_hand_keeps_the_hand_pause(reason):
    v = run(OWNER, paused(reason))
    assert v.decision == "human_takeover"
    assert v.pause is None and v.resume is False
    assert v.human_at == OWNER.sent_at


def test_a_replayed_old_human_message_is_human_activity_but_pauses_nothing():
    old = replace(OWNER, sent_at=NOW - timedelta(hours=3))
    v = run(old)
    assert v.decision == "human_takeover"
    assert v.pause is None and v.cancel_replies is None and v.notify is False
    assert v.human_at == old.sent_at


def test_a_takeover_pause_that_has_run_out_no_longer_holds_the_customer():
    v = run(CUSTOMER, paused("human_takeover", NOW - timedelta(seconds=1)))
    assert (v.decision, v.resume, v.reply) == ("reply", True, True)


def test_a_takeover_pause_still_running_holds_the_customer():
    v = run(CUSTOMER, paused("human_takeover", NOW + timedelta(seconds=1)))
    assert (v.decision, v.reply) == ("paused", False)


def test_handoff_pauses_by_customer_request_with_no_end_and_notifies():
    v = run(replace(CUSTOMER, text="HUMANO por favor"))
    assert v.pause == ("customer_request", None)
    assert (v.notify, v.reply, v.cancel_replies) == (True, False, "customer_request")


def test_owner_command_pause_has_no_end_and_is_not_human_activity():
    v = run(replace(OWNER, text="#bot off"))
    assert v.pause == ("owner_command", None)
    assert v.human_at is None and v.store_message is False


def claimed(id_, text, seconds_ago):
    return {"id": id_, "text": text, "claimed_at": NOW - timedelta(seconds=seconds_ago)}


@pytest.mark.parametrize("sends, expected", [
    ([claimed(5, "Temos sim!", 3)], ("bot_echo", 5)),
    ([claimed(4, "Outro texto", 3), claimed(5, " Temos sim! ", 2)], ("bot_echo", 5)),
    ([claimed(5, "Temos sim!", 61)], ("human_takeover", None)),
    ([claimed(5, "Temos sim?", 3)], ("human_takeover", None)),
    ([], ("human_takeover", None)),
])
def test_an_echo_before_the_send_is_confirmed_matches_the_claimed_text_within_the_window(sends, expected):
    v = run(SEND, claimed_sends=sends)
    assert (v.decision, v.echo_outbound_id) == expected
    if v.decision == "bot_echo":
        assert (v.author, v.pause, v.cancel_replies) == ("bot", None, None)


def send_in(state, id_, text, tried_seconds_ago, claimed_seconds_ago=None):
    return {**claimed(id_, text, claimed_seconds_ago or tried_seconds_ago), "state": state,
            "tried_at": NOW - timedelta(seconds=tried_seconds_ago)}


@pytest.mark.parametrize("state, words", [
    ("unknown", "whose fate was unknown"),
    ("failed", "recorded as failed: it was sent after all"),
])
def test_a_late_echo_of_a_send_of_unknown_fate_or_failed_is_the_bot_never_a_person(state, words):
    v = run(SEND, claimed_sends=[send_in(state, 7, "Temos sim!", 20)])
    assert (v.decision, v.author, v.echo_outbound_id) == ("bot_echo", "bot", 7)
    assert words in v.reason
    assert (v.pause, v.cancel_replies, v.human_at) == (None, None, None)


def test_the_echo_window_counts_from_the_sends_latest_try_not_its_claim():
    # a part sent late in a long reply (or sent again) is matched from its own try
    late_part = send_in("unknown", 8, "Temos sim!", tried_seconds_ago=30, claimed_seconds_ago=200)
    assert run(SEND, claimed_sends=[late_part]).decision == "bot_echo"
    too_late = send_in("failed", 8, "Temos sim!", tried_seconds_ago=61)
    assert run(SEND, claimed_sends=[too_late]).decision == "human_takeover"


def test_a_send_in_flight_is_matched_before_one_whose_fate_is_decided():
    sends = [send_in("failed", 3, "Temos sim!", 40), send_in("claimed", 9, "Temos sim!", 2)]
    assert run(SEND, claimed_sends=sends).echo_outbound_id == 9


def test_the_echo_window_is_the_tenants():
    v = run(SEND, settings={"echo_window_seconds": 120}, claimed_sends=[claimed(5, "Temos sim!", 90)])
    assert v.decision == "bot_echo"


def test_an_echo_is_recognised_before_a_pending_upsert_is_taken_for_the_call_reject_reply():
    v2_2_bot_send = replace(SEND, event_type="messages.upsert", author="system", status="PENDING")
    assert run(v2_2_bot_send, in_ledger=True).decision == "bot_echo"


def test_a_duplicate_wins_over_every_other_rule():
    assert run(OWNER, duplicate_of=1).decision == "duplicate"
    assert run(OWNER, duplicate_of=1).pause is None
