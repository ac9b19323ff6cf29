"""The system prompt a tenant's model receives: the tenant's text with its
variables filled in, followed by the few rules HybridFlow adds to every
prompt (WhatsApp formatting, who wrote which turn, the handoff marker).

Pure: the llm service builds every reply's prompt with it, and the console
shows the same text as a preview beside the settings (so what an owner
reads is what the model gets)."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# the prompt's variables: business_name, customer_name, now, date, time, weekday, timezone
from .text_template import render_template

# The model writes this to ask for a person; the llm service's postprocess.split_handoff() removes it.
HANDOFF_MARKER = "[[HANDOFF]]"
# Put before the turns a person from the business wrote (llm/history.py), so
# the model knows a human said them and not the assistant itself.
HUMAN_PREFIX = "[human team member]"

DEFAULT_SYSTEM_PROMPT = "You are the friendly WhatsApp assistant of {business_name}. Answer briefly and helpfully."
# what a tenant's prompt may say in braces, and what each becomes (the console lists them)
VARIABLES = {
    "business_name": "the business's name",
    "customer_name": "the customer's WhatsApp name",
    "now": "the weekday, date and time in the tenant's time zone",
    "date": "today's date (YYYY-MM-DD)",
    "time": "the time (HH:MM)",
    "weekday": "the weekday",
    "timezone": "the time zone's name",
}


def tenant_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def prompt_variables(*, business_name: str, customer_name: str, timezone_name: str,
                     now: datetime | None = None) -> dict:
    zone = tenant_zone(timezone_name)
    local = (now or datetime.now(timezone.utc)).astimezone(zone)
    return {
        "business_name": business_name or "",
        "customer_name": customer_name or "",
        "now": f"{local:%A, %Y-%m-%d %H:%M} ({zone.key})",
        "date": f"{local:%Y-%m-%d}",
        "time": f"{local:%H:%M}",
        "weekday": f"{local:%A}",
        "timezone": zone.key,
    }


def reply_rules(max_reply_chars: int) -> str:
    return (
        "Rules for every reply (added by HybridFlow):\n"
        "- You are writing in a WhatsApp chat: plain text, short paragraphs, *single asterisks* for bold, "
        "no headings, no tables, no Markdown links.\n"
        f"- Keep each reply under {max_reply_chars} characters.\n"
        f"- Earlier assistant turns that begin with {HUMAN_PREFIX} were written by a person from the business, "
        "not by you; stay consistent with what they said and never begin your reply with that label.\n"
        f"- If the customer asks for a person, or you cannot help with the request, write {HANDOFF_MARKER} "
        "(optionally after one short sentence for the customer). The marker is removed before sending and "
        "a person from the team takes over the chat."
    )


def build_system_prompt(template: str, variables: dict, max_reply_chars: int) -> str:
    body = render_template(template.strip() if template and template.strip() else DEFAULT_SYSTEM_PROMPT,
                           variables).strip()
    return f"{body}\n\n{reply_rules(max_reply_chars)}"
