"""The settings page's fields: every setting a business may change, grouped
and explained for someone who is not a developer, with the kind of input
that fits it. A setting is shown only when core/settings.py has it (keys
from later issues appear as they land); a key no group names yet shows in
"More settings" with an input inferred from its default, so nothing is
ever hidden from the owner."""
from __future__ import annotations

from dataclasses import dataclass

from ..core import notify
from ..core.hours import DAYS
from ..core.prompt import VARIABLES
from ..core.settings import (DEFAULT_SETTINGS, KNOWLEDGE_LANGUAGES, OUTSIDE_HOURS, OVER_BUDGET, PROVIDERS, RULES,
                             TRANSCRIPTION_PROVIDERS, VOICE_NOTE_FALLBACKS)

# the tenant's own columns the page changes beside its settings (TenantChanges checks them)
COLUMNS = ("business_name", "system_prompt", "llm_provider", "llm_model")
DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")))


@dataclass(frozen=True)
class Field:
    """One input (or a few, for hours and texts). widget: text | textarea |
    secret | number | check | select | lines | choices | texts | hours | json;
    nullable: an empty input means "none" (the default)."""
    key: str
    label: str
    help: str = ""
    widget: str = "text"
    options: tuple = ()
    nullable: bool = False

    @property
    def column(self) -> bool:
        return self.key in COLUMNS


def _choices(values, labels: dict | None = None) -> tuple:
    return tuple((v, (labels or {}).get(v, v)) for v in values)


PROVIDER_CHOICES = _choices(PROVIDERS, {"anthropic": "Anthropic (Claude)", "openai": "OpenAI",
                                        "openai_compatible": "OpenAI-compatible server (Ollama, vLLM...)",
                                        "offline": "Offline (answers from the knowledge base only)"})

GROUPS: tuple[tuple[str, str, tuple[Field, ...]], ...] = (
    ("assistant", "The assistant", (
        Field("business_name", "Business name", "Used wherever the instructions say {business_name}."),
        Field("system_prompt", "Instructions for the assistant",
              "Who it is, what it knows, how it answers. You may write "
              + ", ".join("{" + name + "}" for name in VARIABLES) + ".", "textarea"),
        Field("llm_provider", "AI provider", widget="select", options=PROVIDER_CHOICES),
        Field("llm_model", "Model", "Empty: the provider's default model."),
        Field("llm_api_key", "Your own API key (optional)",
              "Empty: the server's key. Once saved it is never shown again; leave this empty to keep it.",
              "secret"),
        Field("llm_base_url", "Server address", "Only for an OpenAI-compatible server, e.g. http://ollama:11434/v1."),
        Field("fallback_providers", "When the provider fails, try", "In this order.", "choices",
              PROVIDER_CHOICES),
        Field("max_reply_chars", "Longest reply (characters)", widget="number"),
        Field("history_messages", "Earlier messages the assistant reads", widget="number"),
    )),
    ("timing", "Timing", (
        Field("debounce_seconds", "Wait for more messages (seconds)",
              "A customer often sends several short messages: the assistant waits this long after the last one "
              "and answers them together.", "number"),
        Field("resume_after_minutes", "Back after your team writes (minutes)",
              "When someone from your team writes in a chat, the assistant goes quiet there and comes back this "
              "long after their last message.", "number"),
        Field("typing", "Show \"typing...\" before a reply", widget="check"),
    )),
    ("words", "Words", (
        Field("handoff_keywords", "Words that ask for a person",
              "One a line. A customer message with one of them goes to your team and the assistant stops.",
              "lines"),
        Field("handoff_message", "What the customer is told then", widget="textarea"),
        Field("owner_commands", "Commands you type in a chat on your phone",
              "pause: the assistant stops in that chat; resume: it answers again.", "texts"),
    )),
    ("ignore", "Chats to ignore", (
        Field("ignore_groups", "Ignore group chats", widget="check"),
        Field("ignore_jids", "Numbers to ignore",
              "One a line: a number with its country code (5511999990000) or a WhatsApp id.", "lines"),
    )),
    ("hours", "Opening hours, limits and voice notes", (
        Field("timezone", "Time zone", "For example America/Sao_Paulo or Europe/Lisbon."),
        Field("business_hours", "Opening hours",
              "Each day like 09:00-12:00, 14:00-18:00; an empty day is closed. The Hours page shows them "
              "as a weekly grid, with whether you are open now.", "hours"),
        Field("holidays", "Holidays (closed all day)", "One date a line, like 2026-12-25.", "lines"),
        Field("closed_until", "Closed until (vacation)",
              "A date (2026-01-05) or a date and time (2026-01-05T09:00); empty: open as usual.", nullable=True),
        Field("outside_hours", "While closed", widget="select", options=_choices(OUTSIDE_HOURS, {
            "reply": "The assistant answers (and knows you are closed)",
            "away_message": "Send the away message, once per closed period", "silent": "Say nothing"})),
        Field("away_message", "Away message", "{opens} becomes when you open next.", "textarea"),
        Field("max_replies_per_chat_per_hour", "Most replies per chat in an hour", widget="number"),
        Field("daily_llm_budget_usd", "Daily AI budget (US dollars)", "Empty: no budget.", "number", nullable=True),
        Field("over_budget", "Beyond the budget", widget="select", options=_choices(OVER_BUDGET, {
            "offline": "Answer from the knowledge base only", "handoff": "Hand the chat to your team"})),
        Field("transcribe_voice_notes", "Turn voice notes into text", widget="check"),
        Field("max_voice_note_seconds", "Longest voice note to transcribe (seconds)", widget="number"),
        Field("voice_note_fallback", "A voice note that cannot be transcribed", widget="select",
              options=_choices(VOICE_NOTE_FALLBACKS, {"ask_to_write": "Ask the customer to write it",
                                                             "handoff": "Hand the chat to your team"})),
        Field("voice_note_reply", "What the customer is asked then", widget="textarea"),
    )),
    ("notify", "Telling your team", (
        Field("notify_owner_phone", "WhatsApp number to tell", "With the country code; empty: nobody."),
        Field("notify_email", "E-mail to tell", "Empty: nobody."),
        Field("notify_events", "Tell about", widget="choices", options=_choices(notify.EVENT_NAMES, {
            "takeover": "someone from the team took over a chat", "handoff": "a customer asked for a person",
            "rate_limited": "a chat reached the hourly limit", "over_budget": "the daily AI budget is spent"})),
        Field("notify_text", "The messages", "You may write " + ", ".join("{" + v + "}" for v in notify.VARIABLES)
              + ".", "texts"),
    )),
    ("advanced", "Advanced", (
        Field("knowledge_language", "Language of the knowledge base",
              "How its words are matched (plurals, accents).", "select", _choices(KNOWLEDGE_LANGUAGES)),
        Field("knowledge_max_entries", "Knowledge entries given with each message", widget="number"),
        Field("knowledge_max_chars", "Most characters of knowledge per message", widget="number"),
        Field("llm_max_tokens", "Longest answer the model may write (tokens)", widget="number"),
        Field("typing_min_ms", "Shortest \"typing...\" (milliseconds)", widget="number"),
        Field("typing_max_ms", "Longest \"typing...\" (milliseconds)", widget="number"),
        Field("time_per_char", "\"Typing...\" per character of the reply (milliseconds)", widget="number"),
        Field("stale_after_minutes", "Messages older than this get no answer (minutes)",
              "When WhatsApp delivers old messages late (a phone back online), the assistant does not answer them.",
              "number"),
        Field("echo_window_seconds", "How long the assistant's own sends are recognised (seconds)", widget="number"),
        Field("retention_days", "Keep messages and the timeline for (days)", widget="number"),
        Field("webhook_secret_grace_minutes", "An old webhook secret keeps working for (minutes)", widget="number"),
        Field("transcribe_owner_voice_notes", "Transcribe your team's voice notes too", widget="check"),
        Field("transcription_provider", "Who transcribes voice notes", widget="select", options=_choices(
            ("", *TRANSCRIPTION_PROVIDERS), {"": "The AI provider above, when it can", "openai": "OpenAI",
                                                  "openai_compatible": "An OpenAI-compatible server"})),
        Field("transcription_model", "Transcription model"),
        Field("transcription_base_url", "Transcription server address"),
        Field("vision_providers", "Providers shown photos", widget="choices", options=PROVIDER_CHOICES),
        Field("media_unseen_reply", "What the customer is told when a photo cannot be seen", widget="textarea"),
    )),
)


def _inferred(key: str) -> Field:
    """A field for a key no group names: its input from its rule and default."""
    default = DEFAULT_SETTINGS[key]
    enum = (getattr(RULES.get(key), "schema", None) or {}).get("enum")
    label = key.replace("_", " ").capitalize()
    if enum:
        return Field(key, label, widget="select", options=_choices(enum))
    if isinstance(default, bool):
        return Field(key, label, widget="check")
    if isinstance(default, (int, float)):
        return Field(key, label, widget="number")
    if isinstance(default, list) and all(isinstance(v, str) for v in default):
        return Field(key, label, "One a line.", "lines")
    if isinstance(default, str):
        return Field(key, label)
    return Field(key, label, "JSON; empty: the default.", "json", nullable=True)


def shown_groups() -> list[tuple[str, str, list[Field]]]:
    """The groups with the fields that exist today, then "More settings"."""
    groups, named = [], set()
    for slug, title, fields in GROUPS:
        present = [f for f in fields if f.column or f.key in DEFAULT_SETTINGS]
        named.update(f.key for f in fields)
        if present:
            groups.append((slug, title, present))
    rest = [_inferred(key) for key in DEFAULT_SETTINGS if key not in named]
    if rest:
        groups.append(("more", "More settings", rest))
    return groups


def field_by_key() -> dict[str, Field]:
    return {f.key: f for _, _, fields in shown_groups() for f in fields}
