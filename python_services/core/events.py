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


def finish(cur, event_id, *, chat_id, author, decision, reason, message_id, reply_token_id, duration_ms,
           notify: bool = False) -> None:
    """`notify`: the verdict asked for the team to be told (POST /notify checks it)."""
    cur.execute(
        "UPDATE events SET decision = %s, reason = %s, chat_id = %s, author = %s, message_id = %s,"
        " reply_token_id = %s, duration_ms = %s, notify = %s WHERE id = %s",
        (decision, reason, chat_id, author, message_id, reply_token_id, duration_ms, notify, event_id),
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


def chat_page(cur, tenant_id, chat_id: str, limit: int, before_id: int | None = None) -> list[dict]:
    """The console's chat page: the chat's newest `limit` events (before the
    event `before_id`, for "show older"), newest first, each with the message
    it carried (message_author, text, message_type, media, edited_at,
    deleted_at). Walks events_timeline_idx backwards: a chat of thousands of
    events costs one page."""
    cur.execute(
        "SELECT e.id, e.event_type, e.chat_id, e.from_me, e.author, e.decision, e.reason, e.actor, e.received_at,"
        " e.message_id, e.reply_token_id, m.author AS message_author, m.message_type, m.text, m.media, m.edited_at,"
        " m.deleted_at FROM events e LEFT JOIN messages m ON m.id = e.message_id"
        " WHERE e.tenant_id = %(tenant)s AND e.chat_id = %(chat)s AND (%(before)s::bigint IS NULL"
        "  OR (e.received_at, e.id) < (SELECT received_at, id FROM events WHERE id = %(before)s"
        "   AND tenant_id = %(tenant)s AND chat_id = %(chat)s))"
        " ORDER BY e.received_at DESC, e.id DESC LIMIT %(limit)s",
        {"tenant": tenant_id, "chat": chat_id, "before": before_id, "limit": limit},
    )
    return cur.fetchall()


def received_at(cur, tenant_id, chat_id: str, event_id: int):
    """When one of the chat's events was received; None for another chat's or an unknown id."""
    cur.execute("SELECT received_at FROM events WHERE id = %s AND tenant_id = %s AND chat_id = %s",
                (event_id, tenant_id, chat_id))
    row = cur.fetchone()
    return row["received_at"] if row else None


def for_notice(cur, event_id) -> dict | None:
    """An event the team may be told of, with what a notification says: the
    message's text and the customer's name, when the event carried them."""
    cur.execute(
        "SELECT e.id, e.tenant_id, e.chat_id, e.decision, e.notify, e.reason, e.received_at, m.text,"
        " s.customer_name"
        " FROM events e LEFT JOIN messages m ON m.id = e.message_id"
        " LEFT JOIN sessions s ON s.tenant_id = e.tenant_id AND s.chat_id = e.chat_id WHERE e.id = %s",
        (event_id,),
    )
    return cur.fetchone()


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


def record_message_decision(cur, tenant_id, *, event_type: str, chat_id, wa_message_id: str, decision: str,
                            reason: str, message_id=None, reply_token_id=None) -> int | None:
    """A decision HybridFlow took about a message after its webhook (a voice
    note transcribed, or answered with the polite request to write it):
    author `system`. Once per message and event type: a second call (the
    flow's node and the reply both got there) records nothing and returns None."""
    cur.execute(
        "INSERT INTO events (tenant_id, event_type, chat_id, wa_message_id, author, decision, reason, dedupe_key,"
        " message_id, reply_token_id) VALUES (%s, %s, %s, %s, 'system', %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, dedupe_key) WHERE decision <> 'duplicate' AND dedupe_key IS NOT NULL"
        " DO NOTHING RETURNING id",
        (tenant_id, event_type, chat_id, wa_message_id, decision, reason, f"{event_type}:{wa_message_id}",
         message_id, reply_token_id),
    )
    row = cur.fetchone()
    return row["id"] if row else None


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


def decisions_per_day(cur, tenant_id, *, since, decisions) -> list[dict]:
    """How many of each decision the tenant's webhooks got per UTC day since
    `since` ({"day", "decision", "n"}): the console's usage page."""
    cur.execute(
        "SELECT (received_at AT TIME ZONE 'UTC')::date AS day, decision, count(*) AS n FROM events"
        " WHERE tenant_id = %s AND received_at >= %s AND decision = ANY(%s) GROUP BY 1, 2 ORDER BY 1, 2",
        (tenant_id, since, list(decisions)),
    )
    return cur.fetchall()


def prune_older_than(cur, cutoffs: dict, limit: int) -> int:
    """Deletes up to `limit` events received before their tenant's cutoff
    ({tenant_id: cutoff}), oldest first; rows another transaction holds are
    left for the next batch. Returns how many went."""
    return delete_before_cutoffs(cur, table="events", key="id", age="received_at", cutoffs=cutoffs, limit=limit)
