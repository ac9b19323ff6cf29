"""Every query on `chat_aliases`: a chat's LID (WhatsApp's privacy id) seen
next to its phone JID, so a later LID-only message finds the same chat."""
from __future__ import annotations

from .batches import delete_before_cutoffs


def phone_of(cur, tenant_id, alias_jid: str) -> str | None:
    cur.execute("SELECT chat_id FROM chat_aliases WHERE tenant_id = %s AND alias_jid = %s", (tenant_id, alias_jid))
    row = cur.fetchone()
    return row["chat_id"] if row else None


def remember(cur, tenant_id, alias_jid: str, chat_id: str) -> None:
    cur.execute(
        "INSERT INTO chat_aliases (tenant_id, alias_jid, chat_id) VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant_id, alias_jid) DO UPDATE SET chat_id = EXCLUDED.chat_id"
        " WHERE chat_aliases.chat_id <> EXCLUDED.chat_id",
        (tenant_id, alias_jid, chat_id),
    )


def prune_older_than(cur, cutoffs: dict, limit: int) -> int:
    """Deletes up to `limit` aliases seen before their tenant's cutoff
    ({tenant_id: cutoff}) whose chat has been silent since (or is gone): a
    chat still talking keeps its LID. Returns how many went."""
    return delete_before_cutoffs(
        cur, table="chat_aliases", key="tenant_id, alias_jid", age="created_at", cutoffs=cutoffs, limit=limit,
        also="NOT EXISTS (SELECT 1 FROM sessions s WHERE s.tenant_id = t.tenant_id AND s.chat_id = t.chat_id"
             " AND greatest(s.updated_at, s.last_customer_at, s.last_human_at, s.last_bot_at) >= r.cutoff)")
