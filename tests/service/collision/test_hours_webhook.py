"""The collision webhook keeps the shop's hours and the limits: each new
decision (outside_hours, rate_limited, over_budget) recorded in the
timeline with its reason, and the answer the inbound flow routes on."""
from __future__ import annotations

import itertools

import pytest

from python_services.core import ledger
from tests.rows import rows

from .conftest import CHAT, fresh

OTHER_CHAT = "5511911112222@s.whatsapp.net"
# a shop that never opens: closed whatever the test's clock says
NEVER_OPEN = {"timezone": "America/Sao_Paulo", "business_hours": {}}
_ids = itertools.count(1)


def customer(chat=CHAT, text="Oi, tem o tênis azul?"):
    return fresh("01_customer_text_pn", key_id=f"HOURS{next(_ids):06d}", key_remoteJid=chat,
                 message={"conversation": text})


def timeline(db_conn, chat=CHAT):
    return rows(db_conn, "SELECT decision, reason, reply_token_id FROM events WHERE chat_id = %s ORDER BY id", chat)


def sent_replies(tx, tenant_id, count, chat=CHAT, **accounting):
    """`count` replies the bot already sent in the chat this hour (with their LLM accounting, if given)."""
    def arrange(cur):
        session = ledger.lock_session(cur, tenant_id, chat)
        for _ in range(count):
            token = ledger.create_token(cur, session, 60)
            cur.execute("UPDATE reply_tokens SET state = 'sent', finished_at = now(), llm_outcome = %s,"
                        " llm_model = %s, tokens_in = %s, tokens_out = 0 WHERE id = %s",
                        ("text", accounting.get("model", "gpt-4o"), accounting.get("tokens_in", 100), token["id"]))
    tx(arrange)


# ---------------------------------------------------------------- outside hours


def test_closed_with_an_away_message_answers_the_first_message_only(make_tenant, deliver, db_conn):
    make_tenant(settings={**NEVER_OPEN, "outside_hours": "away_message",
                          "away_message": "Estamos fechados. Abrimos {opens}."})
    first = deliver(customer()).get_json()
    assert first["decision"] == "outside_hours"
    assert first["away_message"] == "Estamos fechados. Abrimos at a time not yet set."
    assert first["reply_token"] and not first["write_reply"] and first["debounce_seconds"] == 0
    token = rows(db_conn, "SELECT fixed_text, state FROM reply_tokens")[0]
    assert token == {"fixed_text": first["away_message"], "state": "pending"}
    for _ in range(3):
        again = deliver(customer(text="alô?")).get_json()
        assert (again["decision"], again["reply_token"], again["away_message"]) == ("outside_hours", None, None)
    events = timeline(db_conn)
    assert [e["decision"] for e in events] == ["outside_hours"] * 4
    assert "sending the away message" in events[0]["reason"]
    assert all("already sent in this closed period" in e["reason"] for e in events[1:])
    assert rows(db_conn, "SELECT kind, chat_id FROM period_notices") == [{"kind": "away_message", "chat_id": CHAT}]
    # another chat gets its own away message
    assert deliver(customer(chat=OTHER_CHAT)).get_json()["away_message"]


def test_closed_and_silent_stores_the_message_and_makes_no_reply(make_tenant, deliver, db_conn):
    make_tenant(settings={**NEVER_OPEN, "outside_hours": "silent"})
    answer = deliver(customer()).get_json()
    assert (answer["decision"], answer["reply_token"], answer["write_reply"]) == ("outside_hours", None, False)
    assert "no reply (outside_hours silent)" in answer["reason"]
    assert rows(db_conn, "SELECT count(*) AS n FROM messages")[0]["n"] == 1


def test_closed_in_reply_mode_writes_a_reply_after_the_usual_wait(make_tenant, deliver):
    # closed for a break until a day of its own, whatever the test's clock says
    make_tenant(settings={"timezone": "America/Sao_Paulo", "closed_until": "2099-01-01T09:00",
                          "business_hours": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}})
    answer = deliver(customer()).get_json()
    assert (answer["decision"], answer["write_reply"], answer["debounce_seconds"]) == ("outside_hours", True, 3)
    assert "closed for a break (closed_until) — opens Thu 01 Jan 09:00, São Paulo time" in answer["reason"]
    assert answer["away_message"] is None


def test_a_shop_without_business_hours_replies_as_before(tenant, deliver):
    answer = deliver(customer()).get_json()
    assert (answer["decision"], answer["write_reply"], answer["away_message"]) == ("reply", True, None)


# ---------------------------------------------------------------- replies per chat per hour


def test_a_chat_over_its_hourly_limit_is_rate_limited_once_and_the_team_told(make_tenant, deliver, db_conn, tx):
    shop = make_tenant(settings={"max_replies_per_chat_per_hour": 3})
    sent_replies(tx, shop["id"], 3)
    limited = deliver(customer()).get_json()
    assert (limited["decision"], limited["notify"], limited["reply_token"]) == ("rate_limited", True, None)
    assert "3 replies in this chat this hour" in limited["reason"]
    quiet = [deliver(customer()).get_json() for _ in range(3)]
    assert [(q["decision"], q["notify"], q["reply_token"]) for q in quiet] == [("ignore", False, None)] * 3
    assert [e["decision"] for e in timeline(db_conn)] == ["rate_limited", "ignore", "ignore", "ignore"]
    assert "rate_limited was recorded this hour" in timeline(db_conn)[-1]["reason"]
    # another chat of the same tenant still gets its answers
    assert deliver(customer(chat=OTHER_CHAT)).get_json()["decision"] == "reply"


def test_replies_that_never_went_out_do_not_count_against_the_limit(make_tenant, deliver, tx):
    shop = make_tenant(settings={"max_replies_per_chat_per_hour": 1})

    def superseded(cur):
        session = ledger.lock_session(cur, shop["id"], CHAT)
        ledger.create_token(cur, session, 60)
        ledger.create_token(cur, session, 60)  # the first is superseded, the second pending
    tx(superseded)
    assert deliver(customer()).get_json()["decision"] == "reply"


# ---------------------------------------------------------------- the daily LLM budget


def test_over_budget_the_offline_provider_answers_and_the_owner_is_told_once(make_tenant, deliver, db_conn, tx):
    shop = make_tenant(settings={"daily_llm_budget_usd": 1})
    sent_replies(tx, shop["id"], 1, chat="5511900000009@s.whatsapp.net", tokens_in=1_000_000)  # gpt-4o: US$ 2.50
    over = deliver(customer()).get_json()
    assert (over["decision"], over["write_reply"], over["notify"]) == ("over_budget", True, True)
    assert "US$ 2.50" in over["reason"] and "offline provider" in over["reason"]
    token = rows(db_conn, "SELECT over_budget FROM reply_tokens WHERE id = %s", over["reply_token"])[0]
    assert token["over_budget"] is True
    later = deliver(customer(chat=OTHER_CHAT)).get_json()
    assert (later["decision"], later["write_reply"], later["notify"]) == ("over_budget", True, False)
    assert rows(db_conn, "SELECT kind, chat_id FROM period_notices") == [{"kind": "over_budget", "chat_id": ""}]


def test_over_budget_with_handoff_pauses_the_chat_for_a_person(make_tenant, deliver, db_conn, tx):
    shop = make_tenant(settings={"daily_llm_budget_usd": 0.5, "over_budget": "handoff"})
    sent_replies(tx, shop["id"], 1, chat=OTHER_CHAT, tokens_in=1_000_000)
    answer = deliver(customer()).get_json()
    assert (answer["decision"], answer["reply_token"], answer["notify"]) == ("over_budget", None, True)
    session = rows(db_conn, "SELECT paused, pause_reason, paused_until, paused_by FROM sessions WHERE chat_id = %s",
                   CHAT)[0]
    assert session == {"paused": True, "pause_reason": "handoff", "paused_until": None,
                       "paused_by": "the daily LLM budget (over_budget handoff)"}


def test_voice_notes_transcribed_today_count_against_the_budget(make_tenant, deliver, tx):
    shop = make_tenant(settings={"daily_llm_budget_usd": 0.05})

    def transcribed_voice_note(cur, transcribed_by):
        session = ledger.lock_session(cur, shop["id"], OTHER_CHAT)
        cur.execute("INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text,"
                    " sent_at, transcribed_by, transcription_model, transcription_seconds)"
                    " VALUES (%s, %s, %s, %s, 'customer', 'audioMessage', 'oi', now(), %s, 'whisper-1', 600)",
                    (shop["id"], session["id"], OTHER_CHAT, f"VOICE{next(_ids):06d}", transcribed_by))
    # Evolution's own speech-to-text is not paid for by the tenant
    tx(transcribed_voice_note, "evolution")
    assert deliver(customer()).get_json()["decision"] == "reply"
    # ten minutes with whisper-1 at US$ 0.006 a minute: US$ 0.06, over the 0.05 budget
    tx(transcribed_voice_note, "openai")
    over = deliver(customer()).get_json()
    assert over["decision"] == "over_budget" and "US$ 0.06" in over["reason"]


def test_another_tenants_spend_never_counts_against_a_budget(make_tenant, deliver, tx):
    make_tenant(settings={"daily_llm_budget_usd": 1})
    big_spender = make_tenant("big-spender")
    sent_replies(tx, big_spender["id"], 1, tokens_in=10_000_000)
    assert deliver(customer()).get_json()["decision"] == "reply"


def test_a_model_without_a_price_counts_as_nothing_against_the_budget(make_tenant, deliver, tx):
    shop = make_tenant(settings={"daily_llm_budget_usd": 0.01})
    sent_replies(tx, shop["id"], 1, chat=OTHER_CHAT, model="my-local-llama", tokens_in=10_000_000)
    assert deliver(customer()).get_json()["decision"] == "reply"


# ---------------------------------------------------------------- the team's number


def test_a_message_from_the_owners_notification_number_gets_no_reply(make_tenant, deliver):
    make_tenant(settings={"notify_owner_phone": "5511987654321"})
    answer = deliver(customer(text="ok, vi a notificação")).get_json()
    assert (answer["decision"], answer["reply_token"]) == ("ignore", None)
    assert "notify_owner_phone" in answer["reason"]


@pytest.mark.parametrize("settings, field", [
    ({"business_hours": {"mon": [["9h", "18h"]]}}, "settings.business_hours.mon[0]"),
    ({"outside_hours": "closed"}, "settings.outside_hours"),
    ({"notify_owner_phone": "12"}, "settings.notify_owner_phone"),
])
def test_a_tenant_with_bad_hours_settings_is_refused_with_the_field_named(admin, tenant, settings, field):
    resp = admin("PATCH", f"/api/tenants/{tenant['id']}", json={"settings": settings})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == field
