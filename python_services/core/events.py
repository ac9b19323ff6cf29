"""Every query on `events`: one row per webhook, with the decision taken and
why. The partial unique index `events_first_delivery` (tenant, dedupe key,
decision <> 'duplicate') makes the first delivery of a message win, and a
concurrent identical delivery wait for it and then record `duplicate`."""
from __future__ import annotations

from .batches import delete_before_cutoffs


def database_now(cur):
    # the database's clock: tokens and claims are stamped with it too
    cur.execute("SELECT clock_timestamp() AS now")
    return cur.fetchone()["now"]


def insert_first_delivery(cur, tenant_id, event) -> int | None:
    """The event row, if this is the first delivery; None when another delivery
    of the same message holds the index (we waited for it to commit)."""
    cur.execute(
        "INSERT INTO events (tenant_id, event_type, chat_id, wa_message_id, from_me, author, decision, reason,"
        " dedupe_key) VALUES (%s, %s, %s, %s, %s, %s, 'ignore', 'deciding', %s)"
        " ON CONFLICT (tenant_id, dedupe_key) WHERE decision <> 'duplicate' AND dedupe_key IS NOT NULL"
        " DO NOTHING RETURNING id",
        (tenant_id, event.event_type, event.chat_id, event.wa_message_id, event.from_me, event.author,
         event.dedupe_key),
    )
    row = cur.fetchone()
    return row["id"] if row else None


def first_delivery(cur, tenant_id, dedupe_key: str) -> dict:
    cur.execute(
        "SELECT id, chat_id FROM events WHERE tenant_id = %s AND dedupe_key = %s AND decision <> 'duplicate'",
        (tenant_id, dedupe_key),
    )
    return cur.fetchone()


def insert_duplicate(cur, tenant_id, event, chat_id, reason) -> int:
    cur.execute(
        "INSERT INTO events (tenant_id, event_type, chat_id, wa_message_id, from_me, author, decision, reason,"
        " dedupe_key) VALUES (%s, %s, %s, %s, %s, %s, 'duplicate', %s, %s) RETURNING id",
        (tenant_id, event.event_type, chat_id, event.wa_message_id, event.from_me, event.author, reason,
         event.dedupe_key),
    )
    return cur.fetchone()["id"]


def finish(cur, event_id, *, chat_id, author, decision, reason, message_id, reply_token_id, duration_ms) -> None:
    cur.execute(
        "UPDATE events SET decision = %s, reason = %s, chat_id = %s, author = %s, message_id = %s,"
        " reply_token_id = %s, duration_ms = %s WHERE id = %s",
        (decision, reason, chat_id, author, message_id, reply_token_id, duration_ms, event_id),
    )


def timeline(cur, tenant_id, chat_id, limit: int) -> list[dict]:
    """The newest `limit` events of a tenant (or one chat), shown oldest
    first, with the message each carried."""
    cur.execute(
        "SELECT * FROM (SELECT e.*, m.message_type, m.text, m.edited_at, m.deleted_at FROM events e"
        " LEFT JOIN messages m ON m.id = e.message_id"
        " WHERE e.tenant_id = %(tenant)s AND (%(chat)s::text IS NULL OR e.chat_id = %(chat)s)"
        " ORDER BY e.received_at DESC, e.id DESC LIMIT %(limit)s) t ORDER BY received_at, id",
        {"tenant": tenant_id, "chat": chat_id, "limit": limit},
    )
    return cur.fetchall()


def record_tenant_event(cur, tenant_id, event_type: str, reason: str, *, actor: str | None = None,
                        chat_id: str | None = None) -> int:
    """A row for something done to the tenant or one of its chats through the
    API, the console or the schedule, not by a webhook (such as
    `hybridflow.secret_rotated`, `hybridflow.chat_paused`): author `system`,
    decision `command`, `actor` naming who did it."""
    cur.execute(
        "INSERT INTO events (tenant_id, event_type, chat_id, author, decision, reason, actor)"
        " VALUES (%s, %s, %s, 'system', 'command', %s, %s) RETURNING id",
        (tenant_id, event_type, chat_id, reason, actor),
    )
    return cur.fetchone()["id"]


# who acted, for a webhook's row (they carry no actor): a person typing on the
# business's phone (a takeover, #bot off/on), or the customer asking for a person
OWNERS_PHONE = "the owner's phone"
CUSTOMER = "the customer"


def actor_of(row: dict) -> str | None:
    """Who did what the row records: its actor, or for a webhook that paused
    or resumed the chat, the phone it came from."""
    if row.get("actor"):
        return row["actor"]
    if row.get("author") == "business" and row.get("decision") in ("human_takeover", "command"):
        return OWNERS_PHONE
    if row.get("decision") == "handoff":
        return CUSTOMER
    return None


def prune_older_than(cur, cutoffs: dict, limit: int) -> int:
    """Deletes up to `limit` events received before their tenant's cutoff
    ({tenant_id: cutoff}), oldest first; rows another transaction holds are
    left for the next batch. Returns how many went."""
    return delete_before_cutoffs(cur, table="events", key="id", age="received_at", cutoffs=cutoffs, limit=limit)
