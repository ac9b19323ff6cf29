"""The offline provider: no network, no key. It answers from the tenant's
knowledge base with the same retrieval every provider's prompt is given
(core/knowledge.py: Postgres full-text search, accents folded, typos
forgiven, in the tenant's knowledge_language): the best entry's content,
when that entry answers the question on its own (core.knowledge.confident:
it covers half of what the question is about, or the question has half of
the words of its title); anything else is a handoff."""
from __future__ import annotations

from ..core.knowledge import Hit, confident


def answer_from(hits: list[Hit]) -> Hit | None:
    """The entry to answer with, or None (hand over)."""
    if hits and confident(hits[0]):
        return hits[0]
    return None
