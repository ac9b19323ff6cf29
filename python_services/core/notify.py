"""Telling the team: which decisions are worth a notification, the texts
(templates a tenant may change), and the rules of the notification
settings. Pure: the evolution service's /notify sends what this composes.

A decision is told as one of four events: `takeover` (a person of the
business started answering a chat), `handoff` (a customer asked for a
person), `rate_limited` (a chat passed max_replies_per_chat_per_hour: the
bot stops answering it for the rest of the hour) and `over_budget` (today's
LLM spend reached daily_llm_budget_usd). Settings: notify_owner_phone (the
number that gets a WhatsApp message, sent from the tenant's own instance),
notify_email (an e-mail, when the services have SMTP_HOST), notify_events
(which of the four), notify_text (a template per event)."""
from __future__ import annotations

import re

from ..common.errors import bad_request
from .jids import chat_from_text
from .text_template import render_template

# decision -> the event it is told as
EVENTS = {"human_takeover": "takeover", "handoff": "handoff", "rate_limited": "rate_limited",
          "over_budget": "over_budget"}
EVENT_NAMES = tuple(EVENTS.values())

DEFAULT_TEXTS = {
    "takeover": "{business_name}: a person from the team is answering {customer} ({customer_name}); "
                "the bot is quiet in that chat.",
    "handoff": "{business_name}: {customer} ({customer_name}) asked for a person: \"{message}\". "
               "The bot is quiet in that chat until someone resumes it.",
    "rate_limited": "{business_name}: the chat with {customer} ({customer_name}) reached the bot's hourly limit; "
                    "the bot stops answering it for the rest of the hour. Why: {reason}.",
    "over_budget": "{business_name}: today's LLM budget is spent. Why: {reason}.",
}
# the variables a template may use (the console and the docs list them)
VARIABLES = ("business_name", "customer", "customer_name", "message", "reason", "time", "event")
MAX_TEXT_CHARS = 1000
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def event_of(decision: str) -> str | None:
    return EVENTS.get(decision)


def compose(template: str, *, business_name: str, chat_id: str | None, customer_name: str | None,
            message: str | None, reason: str, time: str, event: str) -> str:
    """The notification's text: the template with its variables filled in."""
    customer = "+" + chat_id.partition("@")[0] if chat_id and chat_id.endswith("@s.whatsapp.net") else (chat_id or "")
    values = {"business_name": business_name or "HybridFlow", "customer": customer,
              "customer_name": customer_name or "no name", "message": (message or "")[:300], "reason": reason,
              "time": time, "event": event}
    return render_template(template, values).strip()[:4000]


def subject(event: str, business_name: str) -> str:
    what = {"takeover": "a person took over a chat", "handoff": "a customer asked for a person",
            "rate_limited": "a chat reached the hourly limit", "over_budget": "today's LLM budget is spent"}[event]
    # one line: an e-mail header cannot hold a line break
    name = " ".join((business_name or "").split()) or "HybridFlow"
    return f"[{name}] {what}"


# ---------------------------------------------------------------- settings rules


def check_owner_phone(key, value):
    """The owner's number with its country code; stored as its digits. Empty: no WhatsApp notification."""
    if not isinstance(value, str):
        raise bad_request(f"settings.{key} must be a phone number with its country code, e.g. +55 11 98765-4321, "
                          "or \"\" for none", f"settings.{key}")
    if not value.strip():
        return ""
    try:
        jid = chat_from_text(value)
    except ValueError as exc:
        raise bad_request(f"settings.{key} {exc}", f"settings.{key}") from None
    if not jid.endswith("@s.whatsapp.net"):
        raise bad_request(f"settings.{key} must be a phone number, not a group or another kind of chat",
                          f"settings.{key}")
    return jid.partition("@")[0]


def check_email(key, value):
    if not isinstance(value, str) or len(value) > 254 or (value.strip() and not _EMAIL.fullmatch(value.strip())):
        raise bad_request(f"settings.{key} must be an e-mail address such as owner@example.com, or \"\" for none "
                          "(e-mail goes out only when the services have SMTP_HOST)", f"settings.{key}")
    return value.strip()


def check_events(key, value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"settings.{key} must be a list of events from {', '.join(EVENT_NAMES)}", f"settings.{key}")
    for n, name in enumerate(value):
        if name not in EVENT_NAMES:
            raise bad_request(f"settings.{key}[{n}] must be one of {', '.join(EVENT_NAMES)}", f"settings.{key}[{n}]")
    return list(dict.fromkeys(value))


def check_texts(key, value):
    """{event: template}; events left out keep their default text."""
    if not isinstance(value, dict):
        raise bad_request(f"settings.{key} must be an object of event ({', '.join(EVENT_NAMES)}) to text",
                          f"settings.{key}")
    for name, text in value.items():
        field = f"settings.{key}.{name}"
        if name not in EVENT_NAMES:
            raise bad_request(f"{field} is not an event: use {', '.join(EVENT_NAMES)}", field)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
            raise bad_request(f"{field} must be a non-empty text of at most {MAX_TEXT_CHARS} characters; it may use "
                              + ", ".join("{" + v + "}" for v in VARIABLES), field)
    return {**DEFAULT_TEXTS, **value}


check_owner_phone.schema = {"type": "string", "description": "WhatsApp number (with country code) told of the "
                            "notify_events; \"\": none"}
check_email.schema = {"type": "string", "description": "e-mail told of the notify_events "
                      "(only when SMTP_HOST is set); \"\": none"}
check_events.schema = {"type": "array", "items": {"type": "string", "enum": list(EVENT_NAMES)}}
check_texts.schema = {"type": "object", "properties": {name: {"type": "string"} for name in EVENT_NAMES},
                      "additionalProperties": False}
