"""Retention: what is deleted, when, and how without holding up the chats.

Each tenant's `retention_days` (90 by default) bounds, counted from when a
row was stored:
- events (the timeline) and messages (their text and raw body);
- sends (`outbound`) and reply tokens, kept as long as the message they
  belong to: a send until the bot's message it became is gone, a reply token
  until no message and no send refers to it (and only once it has ended);
- LID aliases (`chat_aliases`), once their chat has been silent that long.
Sessions (a chat's pause state) stay. n8n's flow failures belong to no
tenant: FLOW_ERRORS_RETENTION_DAYS (collision/flow_errors.py).

Deleting goes in batches: each statement removes at most `batch_size` rows,
oldest first, in a transaction of its own, skipping rows another transaction
holds, so a webhook never waits long behind it; one call runs at most
`max_batches` such batches and says whether more is left. Each table's query
is in the table's own module (events.py, messages.py, ...)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..common import db
from . import chat_aliases, events, messages, outbound, reply_tokens, tenants
from .events import database_now
from .settings import DEFAULT_SETTINGS

# the order matters: a send and a reply token go only once their messages have
TENANT_TABLES: tuple[tuple[str, Callable], ...] = (
    ("events", events.prune_older_than),
    ("messages", messages.prune_older_than),
    ("outbound", outbound.prune_older_than),
    ("reply_tokens", reply_tokens.prune_older_than),
    ("chat_aliases", chat_aliases.prune_older_than),
)


def retention_policy(settings: dict) -> dict:
    """What the admin API and the console say is kept, and for how long."""
    days = settings["retention_days"]
    return {
        "retention_days": days,
        "kept": (f"messages (text and raw body) and the timeline's events: {days} days; reply tokens and sends: "
                 f"as long as their messages; a chat's LID alias: until the chat has been silent {days} days; "
                 "the chat itself (its pause state): always"),
    }


@dataclass
class Pruning:
    """One call's budget (`max_batches` statements that removed rows, of at
    most `batch_size` rows each) and what it removed, per table. A statement
    that finds nothing is not counted, so every call reaches every table (at
    most one such statement per table)."""
    batch_size: int
    max_batches: int
    batches: int = 0
    removed: dict = field(default_factory=dict)
    # the budget ran out before every table was done
    more: bool = False

    def run(self, table: str, step: Callable) -> None:
        """step(cur, limit) -> rows removed, each in its own transaction,
        until it removes less than a batch or the budget is spent."""
        self.removed.setdefault(table, 0)
        while True:
            if self.batches >= self.max_batches:
                self.more = True
                return
            with db.transaction() as cur:
                removed = step(cur, self.batch_size)
            self.removed[table] += removed
            if removed:
                self.batches += 1
            if removed < self.batch_size:
                return

    def answer(self) -> dict:
        return {"removed": self.removed, "total": sum(self.removed.values()), "batches": self.batches,
                "batch_size": self.batch_size, "more": self.more}


def _days(value) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return DEFAULT_SETTINGS["retention_days"]


def tenant_cutoffs(now: datetime | None = None) -> dict:
    """{tenant_id: the moment before which its rows go}; `now` is the
    database's clock unless given (tests move it)."""
    with db.transaction() as cur:
        now = now or database_now(cur)
        rows = tenants.retention_settings(cur)
    return {row["id"]: now - timedelta(days=_days(row["retention_days"])) for row in rows}


def prune_tenant_data(pruning: Pruning, now: datetime | None = None) -> None:
    """Every tenant's rows older than its retention_days, table by table."""
    cutoffs = tenant_cutoffs(now)
    if not cutoffs:
        return
    for table, prune in TENANT_TABLES:
        pruning.run(table, lambda cur, limit, prune=prune: prune(cur, cutoffs, limit))


def cutoff(days: int, now: datetime | None = None) -> datetime:
    """The moment `days` before now (the database's clock unless given)."""
    if now is None:
        with db.transaction() as cur:
            now = database_now(cur)
    return now - timedelta(days=days)
