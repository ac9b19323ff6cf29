"""Every query on `sessions`: one row per chat, holding its pause state and
when the customer, a person of the business and the bot last wrote.

The session row is the chat's lock: the webhook (a person typing) and the
send guard both take it FOR UPDATE, so one always sees the other's result
(see ledger.py for the lock order)."""
from __future__ import annotations

import re


def lock(cur, tenant_id, chat_id: str, customer_name: str | None = None) -> dict:
    """The chat's session row, created if the chat is new, locked for this transaction."""
    cur.execute(
        "INSERT INTO sessions (tenant_id, chat_id, customer_name) VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant_id, chat_id) DO NOTHING",
        (tenant_id, chat_id, customer_name or ""),
    )
    return for_update(cur, tenant_id, chat_id)


def for_update(cur, tenant_id, chat_id: str) -> dict | None:
    cur.execute("SELECT * FROM sessions WHERE tenant_id = %s AND chat_id = %s FOR UPDATE", (tenant_id, chat_id))
    return cur.fetchone()


def by_chat(cur, tenant_id, chat_id: str) -> dict | None:
    cur.execute("SELECT * FROM sessions WHERE tenant_id = %s AND chat_id = %s", (tenant_id, chat_id))
    return cur.fetchone()


def by_id(cur, session_id, *, lock: bool = False) -> dict | None:
    cur.execute("SELECT * FROM sessions WHERE id = %s" + (" FOR UPDATE" if lock else ""), (session_id,))
    return cur.fetchone()


def find(cur, tenant_id, paused, limit: int) -> list[dict]:
    cur.execute(
        "SELECT * FROM sessions WHERE (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s)"
        " AND (%(paused)s::boolean IS NULL OR paused = %(paused)s)"
        " ORDER BY updated_at DESC, id LIMIT %(limit)s",
        {"tenant": tenant_id, "paused": paused, "limit": limit},
    )
    return cur.fetchall()


# A chat waits for the shop to open when its latest decision (the noise
# skipped: duplicates, ignored events, the bot's own echoes, a transcription)
# is outside_hours taken in this closed period (at or after
# %(waiting_since)s) that left the customer without the assistant's answer:
# the away message or silence, not the outside_hours `reply` mode (its reply
# token has no fixed text). A later reply, takeover, pause or command ends it.
# One backward step or a few on events_timeline_idx per chat.
WAITING = (
    "(SELECT e.decision = 'outside_hours' AND e.received_at >= %(waiting_since)s"
    " AND (e.reply_token_id IS NULL OR EXISTS (SELECT 1 FROM reply_tokens r"
    "  WHERE r.id = e.reply_token_id AND r.fixed_text IS NOT NULL))"
    " FROM events e WHERE e.tenant_id = {s}.tenant_id AND e.chat_id = {s}.chat_id"
    " AND e.decision NOT IN ('duplicate', 'ignore', 'bot_echo', 'transcribed')"
    " ORDER BY e.received_at DESC, e.id DESC LIMIT 1)"
)


def inbox(cur, tenant_id, *, paused: bool | None = None, reasons: tuple | None = None, search: str | None = None,
          digits: str | None = None, chat_id: str | None = None, limit: int = 50, offset: int = 0,
          waiting_since=None, waiting_only: bool = False) -> list[dict]:
    """A page of the tenant's chats, newest activity first (the console's
    inbox), each with its last message (last_author, last_text, last_type,
    last_at). Filters: paused, pause reason among `reasons`; a search matches
    the customer's name (`search`, a case-insensitive substring), digits of
    the number (`digits`) or the chat exactly (`chat_id`). The page is cut
    first (sessions_inbox_idx), then each of its chats looks its last message
    up (messages_history_idx): as fast with a thousand chats as with ten.

    `waiting` on each row: the chat waits for the shop to open (WAITING,
    given `waiting_since`, the start of the closed period; None: the shop is
    open and nobody waits); `waiting_only` keeps only those chats."""
    if waiting_only and waiting_since is None:
        return []
    # the name as typed: LIKE's own wildcards in it match themselves
    like = None if search is None else "%" + re.sub(r"([\\%_])", r"\\\1", search) + "%"
    waiting = "false" if waiting_since is None else f"COALESCE({WAITING.format(s='s')}, false)"
    cur.execute(
        f"SELECT s.*, {waiting} AS waiting, lm.author AS last_author, lm.text AS last_text,"
        " lm.message_type AS last_type,"
        " lm.sent_at AS last_at FROM (SELECT * FROM sessions WHERE tenant_id = %(tenant)s"
        + (f" AND {WAITING.format(s='sessions')}" if waiting_only else "") +
        " AND (%(paused)s::boolean IS NULL OR paused = %(paused)s)"
        " AND (%(reasons)s::text[] IS NULL OR pause_reason = ANY(%(reasons)s))"
        " AND (%(like)s::text IS NULL AND %(digits)s::text IS NULL AND %(chat)s::text IS NULL"
        "  OR customer_name ILIKE %(like)s OR chat_id LIKE '%%' || %(digits)s || '%%' OR chat_id = %(chat)s)"
        " ORDER BY updated_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s) s"
        " LEFT JOIN LATERAL (SELECT author, text, message_type, sent_at FROM messages m"
        "  WHERE m.session_id = s.id AND m.deleted_at IS NULL AND m.author <> 'system'"
        "  ORDER BY m.sent_at DESC, m.id DESC LIMIT 1) lm ON true"
        " ORDER BY s.updated_at DESC, s.id DESC",
        {"tenant": tenant_id, "paused": paused, "reasons": list(reasons) if reasons is not None else None,
         "like": like, "digits": digits, "chat": chat_id, "limit": limit, "offset": offset,
         "waiting_since": waiting_since},
    )
    return cur.fetchall()


def set_paused(cur, session_id, reason: str, until, by: str | None = None) -> dict:
    cur.execute(
        "UPDATE sessions SET paused = true, pause_reason = %s, paused_until = %s, paused_by = %s,"
        " paused_at = CASE WHEN paused THEN paused_at ELSE now() END, updated_at = now()"
        " WHERE id = %s RETURNING *",
        (reason, until, by, session_id),
    )
    return cur.fetchone()


_RESUMED = ("paused = false, pause_reason = NULL, paused_at = NULL, paused_until = NULL, paused_by = NULL,"
            " updated_at = now()")


def set_resumed(cur, session_id) -> dict | None:
    cur.execute(f"UPDATE sessions SET {_RESUMED} WHERE id = %s RETURNING *", (session_id,))
    return cur.fetchone()


def resume_due(cur) -> list[dict]:
    """Chats paused by a person typing whose pause has run out (their
    tenant_id, chat_id and when the pause ended). Hand pauses have no
    paused_until, and are excluded by reason as well."""
    cur.execute(
        f"UPDATE sessions s SET {_RESUMED} FROM (SELECT id, paused_until FROM sessions"
        " WHERE paused AND pause_reason = 'human_takeover' AND paused_until IS NOT NULL AND paused_until <= now()"
        " FOR UPDATE) due WHERE s.id = due.id RETURNING s.tenant_id, s.chat_id, due.paused_until"
    )
    return cur.fetchall()



def mark_bot_wrote(cur, session_id) -> None:
    cur.execute("UPDATE sessions SET last_bot_at = now(), updated_at = now() WHERE id = %s", (session_id,))


def record_activity(cur, session_id, *, customer_at=None, customer_name=None, human_at=None,
                    bot: bool = False) -> None:
    """After a webhook: who wrote when (each time only moves forward)."""
    cur.execute(
        "UPDATE sessions SET updated_at = now(),"
        " last_customer_at = GREATEST(last_customer_at, %(customer_at)s),"
        " customer_name = COALESCE(%(name)s, customer_name),"
        " last_human_at = GREATEST(last_human_at, %(human_at)s),"
        " last_bot_at = CASE WHEN %(bot)s THEN now() ELSE last_bot_at END"
        " WHERE id = %(id)s",
        {"customer_at": customer_at, "name": customer_name, "human_at": human_at, "bot": bot, "id": session_id},
    )
