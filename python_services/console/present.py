"""How the console says things: a chat's state in words, times in the
tenant's own clock, numbers as people write them, each decision of the
timeline as a sentence. Pure functions and Jinja filters; no queries."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import phonenumbers
from flask import g

from ..core import chat_pauses, events, hours
from ..core.jids import phone_number

STATUS_TITLES = {400: "Bad request", 401: "Please log in", 403: "Not allowed", 404: "Not found",
                 405: "Not allowed here", 413: "Too large", 429: "Too many attempts", 500: "Something went wrong",
                 503: "Busy, try again"}

STATE_WORDS = {"active": "bot answering", "paused": "paused", "handoff": "asked for a person", "off": "bot off"}

HEADLINES = {
    "reply": "the bot answers",
    "duplicate": "duplicate delivery ignored",
    "ignore": "ignored",
    "bot_echo": "the bot's message went out",
    "paused": "not answered: the chat is paused",
    "handoff": "the customer asked for a person: the bot stepped aside",
    "stale": "not answered: the message was too old",
    "refused": "refused",
    "outside_hours": "outside business hours",
    "rate_limited": "not answered: too many replies in this chat this hour",
    "over_budget": "over the daily LLM budget",
    "transcribed": "voice note transcribed",
}
CANCELLED = {
    "human_takeover": "reply cancelled: someone wrote first",
    "customer_request": "reply cancelled: the customer asked for a person",
    "handoff": "reply cancelled: the customer asked for a person",
    "owner_command": "reply cancelled: the bot was switched off in this chat",
}

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")
_UNTIL = re.compile(r"until (" + _ISO.pattern + ")")


def now() -> datetime:
    return datetime.now(UTC)


def zone():
    tenant = g.get("tenant") or {}
    return hours.zone_of((tenant.get("settings") or {}).get("timezone"))


def local_time(moment: datetime | None) -> str:
    """A past or coming moment in the tenant's clock: "14:02" today,
    "Mon 14:02" within six days, "12 Mar 14:02" further, with the year when
    it is not this one."""
    if moment is None:
        return ""
    here = zone()
    local, today = moment.astimezone(here), now().astimezone(here)
    days = abs((local.date() - today.date()).days)
    if days == 0:
        return local.strftime("%H:%M")
    if days < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%d %b %H:%M" if local.year == today.year else "%d %b %Y %H:%M")


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def plain(text: str | None) -> str:
    """A recorded reason with its ISO timestamps in the tenant's clock."""
    if not text:
        return ""

    def local(match):
        try:
            return local_time(datetime.fromisoformat(match.group(0)))
        except ValueError:
            return match.group(0)

    return _ISO.sub(local, text)


def digits(chat_id: str) -> str:
    """The customer's digits (data-chat); a chat without a phone number (a
    LID) keeps its JID's local part."""
    return phone_number(chat_id) or chat_id.partition("@")[0]


def number(chat_id: str) -> str:
    """The number as people write it: +55 11 98765-4321."""
    found = phone_number(chat_id)
    if not found:
        return chat_id
    try:
        parsed = phonenumbers.parse("+" + found, None)
    except phonenumbers.NumberParseException:
        return "+" + found
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def state_view(session: dict) -> dict:
    """{"state", "label", "detail"} of a chat: the badge and its line."""
    state = chat_pauses.state_of(session)
    by = session.get("paused_by")
    if state == "active":
        detail = ""
    elif state == "paused" and session.get("paused_until"):
        detail = f"a person wrote — back at {local_time(session['paused_until'])}"
    elif state == "paused":
        detail = f"paused by {by or 'hand'} until resumed by hand"
    elif state == "handoff":
        detail = "the customer asked for a person; until resumed by hand"
    else:
        detail = f"switched off by {by or 'hand'} until switched on by hand"
    return {"state": state, "label": STATE_WORDS[state], "detail": detail}


def headline(row: dict) -> str:
    """What an event means, in a sentence."""
    decision = row["decision"]
    if row.get("event_type") in (chat_pauses.CHAT_PAUSED, chat_pauses.CHAT_RESUMED):
        return plain(row["reason"].split(" (", 1)[0])
    if decision == "human_takeover":
        when = local_time(row["received_at"])
        until = _UNTIL.search(row["reason"] or "")
        back = f" — back at {plain(until.group(1))}" if until else ""
        return f"stayed quiet: a person of the business wrote at {when}{back}"
    if decision == "command":
        return f"command from {events.actor_of(row) or 'someone'}"
    return HEADLINES.get(decision, decision.replace("_", " "))


def reply_outcome(token: dict) -> str:
    if token["state"] == "failed":
        return f"reply failed: {token.get('error') or token.get('reason') or 'unknown error'}"
    return CANCELLED.get(token["reason"], "reply cancelled: the chat was paused")


def install(app) -> None:
    app.jinja_env.filters.update(clock=local_time, iso=iso, plain=plain, digits=digits, number=number)
    app.jinja_env.globals.update(state_view=state_view, headline=headline, reply_outcome=reply_outcome,
                                 actor_of=events.actor_of)
