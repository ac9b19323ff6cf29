"""Every query on `sessions`: one row per chat, holding its pause state and
when the customer, a person of the business and the bot last wrote.

The session row is the chat's lock: the webhook (a person typing) and the
send guard both take it FOR UPDATE, so one always sees the other's result
(see ledger.py for the lock order)."""
from __future__ import annotations


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
