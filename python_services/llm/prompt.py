"""The system prompt: the tenant's text with its variables filled in, followed
by the few rules HybridFlow adds to every prompt (WhatsApp formatting, who
wrote which turn, the handoff marker)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The model writes this to ask for a person; postprocess.split_handoff() removes it.
HANDOFF_MARKER = "[[HANDOFF]]"
# Put before the turns a person from the business wrote (history.py), so the
# model knows a human said them and not the assistant itself.
HUMAN_PREFIX = "[human team member]"

DEFAULT_SYSTEM_PROMPT = "You are the friendly WhatsApp assistant of {business_name}. Answer briefly and helpfully."

# {name} or {{ name }}; anything else in braces (JSON examples, stray braces) stays as written
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}|\{(\w+)\}")


def render_template(template: str, values: dict) -> str:
    """Fills {name} and {{name}} for the known names (business_name,
    customer_name, now, date, time, weekday, timezone); never raises on
    other braces, which stay as written."""

    def fill(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name in values:
            return str(values[name])
        return match.group(0)

    return _VARIABLE.sub(fill, template or "")


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


# ---------------------------------------------------------------- the knowledge base

KNOWLEDGE_RULE = (
    "Facts about the business (prices, stock, opening hours, delivery, payment, policies) come only from these "
    "entries and from the instructions above. If they do not answer the customer's question, do not guess: say "
    f"that a person from the team will confirm, or write {HANDOFF_MARKER}."
)
NO_KNOWLEDGE_RULE = (
    "The business's knowledge base has no entry about the customer's last message. Do not state facts about the "
    "business (prices, stock, opening hours, delivery, payment, policies) that the instructions above do not give: "
    f"say that a person from the team will confirm, or write {HANDOFF_MARKER}."
)


def knowledge_section(has_knowledge: bool, hits: list, max_chars: int) -> str:
    """What every provider is told from the knowledge base: the entries found
    for the customer's message (each cut to its share of max_chars: the
    passage around the words it matched), and the rule to answer facts from
    them only. Empty when the tenant has no knowledge base."""
    if not has_knowledge:
        return ""
    if not hits:
        return NO_KNOWLEDGE_RULE
    parts, left = [], max_chars
    for n, hit in enumerate(hits):
        share = max(120, left // (len(hits) - n))
        text = hit.passage(share)
        left -= len(text)
        parts.append(f"[{n + 1}] {hit.title}\n{text}")
    return ("The business's knowledge base: the entries that best match the customer's message, best first.\n\n"
            + "\n\n".join(parts) + "\n\n" + KNOWLEDGE_RULE)
