"""Per-tenant settings: every key, its default and its rule, in one table.
Stored settings hold only what a tenant changed; effective_settings() fills
in the rest. validate_settings() gives the 400 that names the field."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..common.errors import bad_request
from ..common.params import check_text
from . import hours_settings, notify

PROVIDERS = ("anthropic", "openai", "openai_compatible", "offline")
# while closed: the bot answers knowing it is closed, sends the away message once per closed period, or says nothing
OUTSIDE_HOURS = ("reply", "away_message", "silent")
# beyond the daily LLM budget: the offline provider answers, or the chat goes to a person
OVER_BUDGET = ("offline", "handoff")
# Postgres' text search configurations a knowledge base may use (core/knowledge.py)
KNOWLEDGE_LANGUAGES = ("portuguese", "spanish", "english", "danish", "dutch", "finnish", "french", "german",
                       "hungarian", "italian", "norwegian", "romanian", "russian", "swedish", "turkish", "simple")

DEFAULT_SETTINGS: dict = {
    # collision rules
    "debounce_seconds": 3,
    "resume_after_minutes": 120,
    "stale_after_minutes": 10,
    "ignore_groups": True,
    "ignore_jids": [],
    "handoff_keywords": ["human", "humano", "atendente", "agente", "operator"],
    "owner_commands": {"pause": "#bot off", "resume": "#bot on"},
    "echo_window_seconds": 60,
    # llm
    "history_messages": 20,
    "max_reply_chars": 1000,
    "llm_max_tokens": 1024,
    "timezone": "UTC",
    "fallback_providers": ["offline"],
    # the knowledge base (core/knowledge.py): its entries' language (stemming
    # and little words), and how much of it a reply is given
    "knowledge_language": "portuguese",
    "knowledge_max_entries": 4,
    "knowledge_max_chars": 4000,
    "handoff_message": "Thanks for your message! Someone from our team will get back to you shortly.",
    "llm_api_key": "",
    "llm_base_url": "",
    # evolution
    "typing": True,
    "time_per_char": 40,
    "typing_min_ms": 500,
    "typing_max_ms": 5000,
    # data hygiene: messages (text and raw body), events, and the reply tokens
    # and sends that belong to them are deleted once older than this (the
    # prune flow); a rotated webhook secret stays accepted this long
    "retention_days": 90,
    "webhook_secret_grace_minutes": 60,
    # business hours (core/hours.py; their rules: core/hours_settings.py), in
    # `timezone`: weekly ranges (None: always open), holidays, a vacation;
    # what the bot does while closed
    "business_hours": None,
    "holidays": [],
    "closed_until": None,
    "outside_hours": "reply",
    "away_message": "Thanks for your message! We're closed right now and open {opens}; we'll answer you then.",
    # limits: replies per chat in the tenant's local hour; the LLM's spend per
    # local day (None: no budget) and what happens beyond it
    "max_replies_per_chat_per_hour": 30,
    "daily_llm_budget_usd": None,
    "over_budget": "offline",
    # telling the team (core/notify.py): which events, to whom, in what words
    "notify_owner_phone": "",
    "notify_email": "",
    "notify_events": ["takeover", "handoff", "rate_limited", "over_budget"],
    "notify_text": dict(notify.DEFAULT_TEXTS),
    # voice notes and images (docs/media.md): a voice note becomes text (the
    # tenant's OpenAI or OpenAI-compatible provider, or transcription_provider
    # for a tenant on another); over max_voice_note_seconds or with no way to
    # transcribe it, the polite answer (voice_note_reply) or a handoff. Photos
    # reach the providers listed in vision_providers as images; the others
    # (and the offline provider, which says media_unseen_reply) are told a
    # photo came that they cannot see
    "transcribe_voice_notes": True,
    "transcribe_owner_voice_notes": False,
    "max_voice_note_seconds": 180,
    "transcription_provider": "",
    "transcription_model": "whisper-1",
    "transcription_base_url": "",
    "voice_note_fallback": "ask_to_write",
    "voice_note_reply": "Sorry, I can't listen to voice notes here. Could you write your message, please?",
    "vision_providers": ["anthropic", "openai"],
    "media_unseen_reply": "Sorry, I can't see photos or files here. Could you tell me in words what you need?",
}

# keys whose values are secrets: never returned whole by the admin API
SECRET_SETTINGS = ("llm_api_key",)


def _number(lo, hi, integer=False):
    def check(key, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
            raise bad_request(f"settings.{key} must be {'a whole number' if integer else 'a number'}", f"settings.{key}")
        if not lo <= value <= hi:
            raise bad_request(f"settings.{key} must be between {lo} and {hi}", f"settings.{key}")
        return value
    check.schema = {"type": "integer" if integer else "number", "minimum": lo, "maximum": hi}
    return check


def _bool(key, value):
    if not isinstance(value, bool):
        raise bad_request(f"settings.{key} must be true or false", f"settings.{key}")
    return value


def _text(max_len):
    def check(key, value):
        return check_text(f"settings.{key}", value, max_len)
    return check


def _text_list(max_items, max_len=200):
    def check(key, value):
        if not isinstance(value, list) or len(value) > max_items or not all(
            isinstance(v, str) and 0 < len(v) <= max_len for v in value
        ):
            raise bad_request(f"settings.{key} must be a list of at most {max_items} non-empty strings", f"settings.{key}")
        return value
    return check


def _owner_commands(key, value):
    if not isinstance(value, dict) or set(value) - {"pause", "resume"} or not all(
        isinstance(v, str) and v.strip() for v in value.values()
    ):
        raise bad_request("settings.owner_commands must be {\"pause\": str, \"resume\": str}", f"settings.{key}")
    return {**DEFAULT_SETTINGS["owner_commands"], **value}


def _timezone(key, value):
    if not isinstance(value, str):
        raise bad_request("settings.timezone must be an IANA time zone name such as America/Sao_Paulo", f"settings.{key}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_request(f"settings.timezone: unknown time zone {value!r}", f"settings.{key}") from None
    return value


def _providers(key, value):
    if not isinstance(value, list) or not all(v in PROVIDERS for v in value):
        raise bad_request(f"settings.{key} must be a list of providers from {', '.join(PROVIDERS)}", f"settings.{key}")
    return value


def _knowledge_language(key, value):
    if value not in KNOWLEDGE_LANGUAGES:
        raise bad_request(f"settings.{key} must be one of {', '.join(KNOWLEDGE_LANGUAGES)}", f"settings.{key}")
    return value


_knowledge_language.schema = {"type": "string", "enum": list(KNOWLEDGE_LANGUAGES)}


def _one_of(choices):
    def check(key, value):
        if value not in choices:
            raise bad_request(f"settings.{key} must be one of {', '.join(choices)}", f"settings.{key}")
        return value
    check.schema = {"type": "string", "enum": list(choices)}
    return check


def _budget(key, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.01 <= value <= 1_000_000:
        raise bad_request(f"settings.{key} must be an amount in US dollars from 0.01 (or null for no budget)",
                          f"settings.{key}")
    return value


_budget.schema = {"type": ["number", "null"], "minimum": 0.01, "description": "US dollars of LLM spend per local "
                  "day (estimated from the price table); null: no budget"}


# who transcribes voice notes: "" = the tenant's own provider when it is one of the others
TRANSCRIPTION_PROVIDERS = ("openai", "openai_compatible")
# a voice note that cannot be transcribed: ask the customer to write it, or hand the chat to a person
VOICE_NOTE_FALLBACKS = ("ask_to_write", "handoff")


def _transcription_provider(key, value):
    if value not in ("", *TRANSCRIPTION_PROVIDERS):
        raise bad_request(f"settings.{key} must be openai, openai_compatible or \"\" (the tenant's own provider "
                          "when it is one of those)", f"settings.{key}")
    return value


_transcription_provider.schema = {"type": "string", "enum": ["", *TRANSCRIPTION_PROVIDERS]}

RULES = {
    "debounce_seconds": _number(0, 300),
    "resume_after_minutes": _number(0.01, 60 * 24 * 30),
    "stale_after_minutes": _number(0.01, 60 * 24 * 30),
    "ignore_groups": _bool,
    "ignore_jids": _text_list(1000),
    "handoff_keywords": _text_list(100),
    "owner_commands": _owner_commands,
    "echo_window_seconds": _number(1, 3600),
    "history_messages": _number(0, 200, integer=True),
    "max_reply_chars": _number(20, 65536, integer=True),
    "llm_max_tokens": _number(16, 32000, integer=True),
    "timezone": _timezone,
    "fallback_providers": _providers,
    "knowledge_language": _knowledge_language,
    "knowledge_max_entries": _number(0, 20, integer=True),
    "knowledge_max_chars": _number(200, 50000, integer=True),
    "handoff_message": _text(4000),
    "llm_api_key": _text(500),
    "llm_base_url": _text(500),
    "typing": _bool,
    "time_per_char": _number(0, 1000),
    "typing_min_ms": _number(0, 60000),
    "typing_max_ms": _number(0, 60000),
    "retention_days": _number(1, 3650, integer=True),
    "webhook_secret_grace_minutes": _number(0, 60 * 24 * 7),
    "business_hours": hours_settings.check_business_hours,
    "holidays": hours_settings.check_holidays,
    "closed_until": hours_settings.check_closed_until,
    "outside_hours": _one_of(OUTSIDE_HOURS),
    "away_message": _text(1000),
    "max_replies_per_chat_per_hour": _number(1, 10000, integer=True),
    "daily_llm_budget_usd": _budget,
    "over_budget": _one_of(OVER_BUDGET),
    "notify_owner_phone": notify.check_owner_phone,
    "notify_email": notify.check_email,
    "notify_events": notify.check_events,
    "notify_text": notify.check_texts,
    "transcribe_voice_notes": _bool,
    "transcribe_owner_voice_notes": _bool,
    "max_voice_note_seconds": _number(1, 3600, integer=True),
    "transcription_provider": _transcription_provider,
    "transcription_model": _text(200),
    "transcription_base_url": _text(500),
    "voice_note_fallback": _one_of(VOICE_NOTE_FALLBACKS),
    "voice_note_reply": _text(4000),
    "vision_providers": _providers,
    "media_unseen_reply": _text(4000),
}
assert set(RULES) == set(DEFAULT_SETTINGS)


# settings that were, and where they went (the 400 says so)
MOVED = {"knowledge_base": "the knowledge base has its own API now: POST /api/tenants/<id>/knowledge "
                           "(one entry: {title, content}) or POST /api/tenants/<id>/knowledge/import (a file)"}


def validate_settings(settings) -> dict:
    """The given settings, checked key by key; unknown keys are refused."""
    if not isinstance(settings, dict):
        raise bad_request("settings must be a JSON object", "settings")
    checked = {}
    for key, value in settings.items():
        rule = RULES.get(key)
        if rule is None and key in MOVED:
            raise bad_request(f"settings.{key} is no longer a setting: {MOVED[key]}", f"settings.{key}")
        if rule is None:
            raise bad_request(f"settings.{key} is not a known setting", f"settings.{key}")
        checked[key] = rule(key, value)
    if checked.get("typing_min_ms", 0) > checked.get("typing_max_ms", float("inf")):
        raise bad_request("settings.typing_min_ms must not exceed typing_max_ms", "settings.typing_min_ms")
    return checked


_JSON_TYPES = ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string"), (list, "array"),
               (dict, "object"))


def settings_schema() -> dict:
    """The settings as JSON Schema, for the OpenAPI document: every key with
    its default, its type and (for numbers) its bounds. The rules above are
    what is enforced; this describes them."""
    properties = {}
    for key, default in DEFAULT_SETTINGS.items():
        prop = getattr(RULES[key], "schema", None) or {
            "type": next(name for kind, name in _JSON_TYPES if isinstance(default, kind))}
        if key in SECRET_SETTINGS:
            prop = {**prop, "writeOnly": True, "description": "a secret: shown masked (****1234)"}
        properties[key] = {**prop, "default": default}
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "description": "Only the keys given change (PATCH: a null puts a key back to its default)."}


def effective_settings(stored: dict | None) -> dict:
    """Defaults with the tenant's own values on top."""
    return {**DEFAULT_SETTINGS, **(stored or {})}


def public_settings(stored: dict | None) -> dict:
    """Settings as the admin API shows them: secrets masked."""
    shown = dict(stored or {})
    for key in SECRET_SETTINGS:
        if shown.get(key):
            shown[key] = mask_secret(shown[key])
    return shown


def mask_secret(value: str) -> str:
    return "****" + value[-4:] if len(value) > 8 else "****"
