"""The system prompt: the tenant's text with its variables filled in, followed
by the few rules HybridFlow adds to every prompt (WhatsApp formatting, who
wrote which turn, the handoff marker)."""
from __future__ import annotations

from datetime import datetime, timezone

from ..core import hours
# the pure part (the tenant's text, its variables, HybridFlow's rules) is core's: the console previews it too
from ..core.prompt import (DEFAULT_SYSTEM_PROMPT, HANDOFF_MARKER, HUMAN_PREFIX,  # noqa: F401
                           build_system_prompt, prompt_variables, reply_rules, tenant_zone)
from ..core.text_template import render_template  # noqa: F401


def with_hours(system: str, settings: dict, now: datetime | None = None) -> str:
    """The system prompt, and outside business hours in `reply` mode the fact
    that the shop is closed and when it opens (core/hours.py)."""
    if settings.get("outside_hours") != "reply":
        return system
    now = now or datetime.now(timezone.utc)
    shop = hours.status(now, settings)
    if shop.open:
        return system
    opens = f"it opens {shop.opens_text(now)}" if shop.opens_at else "no opening time is set"
    return (f"{system}\n\nThe shop is closed now; {opens}. Answer as usual, and where it matters (an order, a "
            "visit, a person to talk to) tell the customer that the shop is closed and when it opens.")


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
