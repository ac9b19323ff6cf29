"""Recording one webhook, in the caller's transaction: the first delivery of
a message claims the partial unique index of `events`, so a concurrent
identical delivery waits for it and then records `duplicate`; the chat's
session row is locked before deciding, so a person's message and the send
guard never both win. The rules themselves are core.decide."""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

from ..core import chat_aliases, events, ledger, messages, outbound, period_notices, reply_tokens, send_fate, sessions
from ..core.decide import Facts, Verdict, decide, periods
from ..core.normalize import Event
from ..core.prices import load_prices, spend_usd
from ..core.settings import effective_settings

# the built-in price table, for a caller that passes none (the app passes LLM_PRICES')
_BUILT_IN_PRICES = load_prices("")
# A customer's voice note is transcribed (POST /transcribe on the llm service)
# before the debounce wait starts, so its reply token's deadline has that time
# too; else the recovery flow could take the reply up while the first run is
# still working and the model would be paid twice. This is how long the llm
# service lets a transcription claim run before it counts as abandoned
# (llm/transcribe.py stale_after) with the default timeouts: the provider call
# 30 s x 3 attempts, the media download 15 s x 3 attempts, and 10 s.
TRANSCRIPTION_ALLOWANCE_SECONDS = 145.0


def record_webhook(cur, tenant: dict, event: Event, now, started: float,
                   reply_margin: float = ledger.RECOVERY_MARGIN_SECONDS, note: str | None = None,
                   prices: dict | None = None) -> dict:
    """`note` is added to the recorded reason (how the webhook was let in,
    say); `prices` is the LLM price table the daily budget counts with."""
    settings = effective_settings(tenant["settings"])
    tenant_id = tenant["id"]
    chat_id = resolve_chat(cur, tenant_id, event)

    event_id = events.insert_first_delivery(cur, tenant_id, event)
    if event_id is None:
        first = events.first_delivery(cur, tenant_id, event.dedupe_key)
        verdict = decide(event, None, settings, Facts(now=now, duplicate_of=first["id"]))
        event_id = events.insert_duplicate(cur, tenant_id, event, first["chat_id"], noted(verdict.reason, note))
        return answer(tenant_id, event_id, first["chat_id"], event, verdict, None, settings)

    if chat_id and event.alias_jid:
        chat_aliases.remember(cur, tenant_id, event.alias_jid, chat_id)
    target = None
    if event.kind in ("edit", "revoke") and event.target_id:
        target = messages.by_wa_id(cur, tenant_id, event.target_id)
        if target:
            chat_id = target["chat_id"]
    facts = gather_facts(cur, tenant_id, chat_id, event, now, target, settings["echo_window_seconds"])

    chat = sessions.for_update(cur, tenant_id, chat_id) if chat_id and event.kind in ("message", "reaction") else None
    prices = _BUILT_IN_PRICES if prices is None else prices
    verdict = decide(event, chat, settings, with_limits(cur, tenant_id, chat, chat_id, event, facts, settings, prices))
    if chat is None and needs_session(verdict):
        # a new chat (one the owner started included): create it, then decide
        # again on the locked row, in case a concurrent webhook just made it
        chat = ledger.lock_session(cur, tenant_id, chat_id)
        verdict = decide(event, chat, settings, with_limits(cur, tenant_id, chat, chat_id, event, facts, settings,
                                                            prices))
    verdict = say_once(cur, tenant_id, chat_id, verdict)

    message_id, token = apply(cur, tenant_id, chat, chat_id, event, verdict, settings, reply_margin)
    events.finish(cur, event_id, chat_id=chat_id, author=verdict.author or event.author, decision=verdict.decision,
                  reason=noted(verdict.reason, note), message_id=message_id,
                  reply_token_id=token["id"] if token else None,
                  duration_ms=round((time.perf_counter() - started) * 1000, 2), notify=verdict.notify)
    return answer(tenant_id, event_id, chat_id, event, verdict, token, settings)


def noted(reason: str, note: str | None) -> str:
    return f"{reason}; {note}" if note else reason


def resolve_chat(cur, tenant_id, event: Event) -> str | None:
    """The phone JID of the chat, also for a LID-only message of a chat whose
    LID was seen next to its phone before."""
    chat_id = event.chat_id
    if chat_id and chat_id.endswith("@lid"):
        chat_id = chat_aliases.phone_of(cur, tenant_id, chat_id) or chat_id
    return chat_id


def gather_facts(cur, tenant_id, chat_id, event: Event, now, target, echo_window_seconds: float = 60) -> Facts:
    facts = {"now": now, "target_known": target is not None}
    if event.kind == "message" and event.from_me:
        facts["in_ledger"] = outbound.in_ledger(cur, tenant_id, event.wa_message_id)
        if not facts["in_ledger"]:
            since = now - timedelta(seconds=echo_window_seconds)
            facts["claimed_sends"] = outbound.unconfirmed(cur, tenant_id, chat_id, since)
    return Facts(**facts)


def with_limits(cur, tenant_id, chat, chat_id, event: Event, facts: Facts, settings, prices) -> Facts:
    """A customer's message: the facts the hours and limits rules need, read
    on the locked session (each only when its rule can apply)."""
    if event.kind != "message" or event.from_me or not chat_id:
        return facts
    at = periods(facts.now, settings)
    found = {"replies_this_hour": reply_tokens.replies_since(cur, chat["id"], at.hour) if chat else 0}
    if found["replies_this_hour"] >= settings["max_replies_per_chat_per_hour"]:
        found["rate_limited_this_hour"] = period_notices.said(cur, tenant_id, "rate_limited", chat_id, at.hour)
    if not at.shop.open and settings["outside_hours"] == "away_message":
        found["away_sent"] = period_notices.said(cur, tenant_id, "away_message", chat_id, at.shop.closed_since)
    budget = settings["daily_llm_budget_usd"]
    if budget is not None:
        # the replies' tokens and the voice notes transcribed today: both are paid for
        found["spent_today_usd"] = spend_usd(
            reply_tokens.usage_rows(cur, since=at.day, tenant_id=str(tenant_id)), prices,
            messages.transcription_usage_rows(cur, since=at.day, tenant_id=str(tenant_id)))
        if found["spent_today_usd"] >= budget:
            found["budget_told_today"] = period_notices.said(cur, tenant_id, "over_budget",
                                                             period_notices.TENANT_WIDE, at.day)
    return replace(facts, **found)


def say_once(cur, tenant_id, chat_id, verdict: Verdict) -> Verdict:
    """Records what the verdict says once per period; when a concurrent
    webhook recorded it first (the budget notice: another chat), it is not
    said again."""
    if verdict.once is None:
        return verdict
    kind, start = verdict.once
    scope = period_notices.TENANT_WIDE if kind == "over_budget" else chat_id
    if period_notices.record(cur, tenant_id, kind, scope, start):
        return verdict
    if verdict.fixed_text:
        return replace(verdict, reply=False, fixed_text=None, notify=False,
                       reason=f"{verdict.reason}; already sent for this period by a concurrent delivery")
    return replace(verdict, notify=False)


def needs_session(verdict: Verdict) -> bool:
    return bool(verdict.store_message or verdict.pause or verdict.reply or verdict.human_at
                or verdict.decision == "command")


def apply_edit(cur, tenant_id, event: Event) -> int | None:
    if event.kind == "edit":
        return messages.edit(cur, tenant_id, event.target_id, event.text, event.sent_at)
    return messages.mark_deleted(cur, tenant_id, event.target_id, event.sent_at)


def apply(cur, tenant_id, chat, chat_id, event: Event, verdict: Verdict, settings,
          reply_margin: float = ledger.RECOVERY_MARGIN_SECONDS) -> tuple[int | None, dict | None]:
    """The verdict's effects, on the locked session."""
    if event.kind in ("edit", "revoke"):
        return (apply_edit(cur, tenant_id, event) if verdict.decision == "ignore" and event.target_id else None), None
    if chat is None:
        return None, None
    if verdict.resume and chat["paused"]:
        ledger.resume_session(cur, chat["id"])
    if verdict.pause:
        reason, until, *by = verdict.pause
        ledger.pause_session(cur, tenant_id, chat_id, reason, until, by=by[0] if by else None)
    elif verdict.cancel_replies:
        ledger.cancel_open_tokens(cur, chat["id"], verdict.cancel_replies)
    if verdict.echo_outbound_id:
        # a send in flight gets the id bound; one of unknown fate (or failed) is sent after all
        send_fate.echo_matched(cur, verdict.echo_outbound_id, event.wa_message_id)

    token = None
    if verdict.reply:
        # the away message goes at once (no debounce wait), as the rules wrote it;
        # past the deadline the recovery flow takes the reply up again
        wait = 0 if verdict.fixed_text else settings["debounce_seconds"]
        if not verdict.fixed_text and is_voice_note(event, verdict, True):
            # transcribed before the wait (the away message goes without)
            wait += TRANSCRIPTION_ALLOWANCE_SECONDS
        token = ledger.create_token(cur, chat, wait + reply_margin, fixed_text=verdict.fixed_text,
                                    over_budget=verdict.over_budget)
    message_id = None
    if verdict.store_message:
        message_id = messages.store(
            cur, tenant_id=tenant_id, session_id=chat["id"], chat_id=chat_id, wa_message_id=event.wa_message_id,
            author=verdict.author, message_type=event.message_type or "unknown", text=event.text,
            sent_at=event.sent_at, raw=event.raw, reply_token_id=token["id"] if token else None, media=event.media)
    customer = verdict.author == "customer"
    sessions.record_activity(cur, chat["id"], customer_at=event.sent_at if customer else None,
                             customer_name=(event.push_name or None) if customer else None,
                             human_at=verdict.human_at, bot=verdict.author == "bot")
    return message_id, token


def answer(tenant_id, event_id, chat_id, event: Event, verdict: Verdict, token, settings) -> dict:
    return {
        "decision": verdict.decision,
        "reason": verdict.reason,
        "event_id": event_id,
        "tenant_id": str(tenant_id),
        "chat_id": chat_id,
        "wa_message_id": event.wa_message_id,
        "reply_token": str(token["id"]) if token else None,
        "debounce_seconds": settings["debounce_seconds"] if token and not verdict.fixed_text else 0,
        "notify": verdict.notify,
        # what the flow does with the reply token: wait and have the reply
        # written, or send the away message (its text) now
        "write_reply": bool(token) and not verdict.fixed_text,
        "away_message": verdict.fixed_text if token else None,
        # a customer's audio in a chat the bot answers: the flow has it
        # transcribed before the debounce wait, so the burst's answer knows it
        "voice_note": is_voice_note(event, verdict, bool(token)),
        # the one key the inbound flow's "Route by decision" switches on (the
        # fields above say the same in detail, for people and older flows)
        "route": route_for(event, verdict, token),
    }


# what the inbound flow does next, one value per answer (docs/internal-api.md)
ROUTES = ("reply", "voice_note", "away_message", "notify", "notify_and_reply", "nothing")


def route_for(event: Event, verdict: Verdict, token) -> str:
    """The flow's next step: write the reply (after transcribing a voice note),
    send the away message, tell the team (and still have the reply written:
    over the day's budget, the offline answers go on), or nothing."""
    if token is None:
        return "notify" if verdict.notify else "nothing"
    if verdict.fixed_text:
        # the rules never ask to notify and send an away message at once (core/decide.py)
        return "away_message"
    if verdict.notify:
        return "notify_and_reply"
    return "voice_note" if is_voice_note(event, verdict, True) else "reply"


def is_voice_note(event: Event, verdict: Verdict, has_token: bool) -> bool:
    """A customer's audio in a chat the bot answers (the answer's `voice_note`)."""
    return has_token and verdict.author == "customer" and (event.media or {}).get("kind") == "audio"
