"""Every query on `messages`: the chat history in both directions (the
customer, the bot, the business's people), each WhatsApp message once."""
from __future__ import annotations

from .batches import delete_before_cutoffs

import json


def by_wa_id(cur, tenant_id, wa_message_id: str) -> dict | None:
    cur.execute("SELECT id, chat_id, session_id FROM messages WHERE tenant_id = %s AND wa_message_id = %s",
                (tenant_id, wa_message_id))
    return cur.fetchone()


def store(cur, *, tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at, raw,
          reply_token_id) -> int:
    """The message's id; a message already in history (the bot's confirm wrote
    it first, or another event type carried it) keeps its row."""
    cur.execute(
        "INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at,"
        " raw, reply_token_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, wa_message_id) DO NOTHING RETURNING id",
        (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at, json.dumps(raw),
         reply_token_id),
    )
    row = cur.fetchone()
    return row["id"] if row else by_wa_id(cur, tenant_id, wa_message_id)["id"]


def store_bot_reply(cur, *, tenant_id, session_id, chat_id, wa_message_id, text, reply_token_id) -> None:
    """A confirmed send goes into history as the bot's (also over an early echo's row)."""
    cur.execute(
        "INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text,"
        " sent_at, reply_token_id) VALUES (%s, %s, %s, %s, 'bot', 'conversation', %s, now(), %s)"
        " ON CONFLICT (tenant_id, wa_message_id) DO UPDATE SET reply_token_id = EXCLUDED.reply_token_id,"
        " author = 'bot'",
        (tenant_id, session_id, chat_id, wa_message_id, text, reply_token_id),
    )


def edit(cur, tenant_id, wa_message_id: str, text, at) -> int | None:
    cur.execute(
        "UPDATE messages SET text = COALESCE(%s, text), edited_at = %s WHERE tenant_id = %s"
        " AND wa_message_id = %s RETURNING id",
        (text, at, tenant_id, wa_message_id),
    )
    row = cur.fetchone()
    return row["id"] if row else None


def mark_deleted(cur, tenant_id, wa_message_id: str, at) -> int | None:
    cur.execute("UPDATE messages SET deleted_at = %s WHERE tenant_id = %s AND wa_message_id = %s RETURNING id",
                (at, tenant_id, wa_message_id))
    row = cur.fetchone()
    return row["id"] if row else None


def move_to_token(cur, new_token_id, older_token_ids: list) -> None:
    """A newer reply token takes over the burst of the ones it supersedes."""
    cur.execute("UPDATE messages SET reply_token_id = %s WHERE reply_token_id = ANY(%s)",
                (new_token_id, older_token_ids))


def burst(cur, token_id) -> list[dict]:
    """The customer's messages a reply token answers, oldest first."""
    cur.execute(
        "SELECT wa_message_id, message_type, text, sent_at FROM messages"
        " WHERE reply_token_id = %s AND author = 'customer' ORDER BY sent_at, id",
        (token_id,),
    )
    return cur.fetchall()


def business_wrote_since(cur, session_id, since) -> bool:
    """A person of the business wrote in the chat after `since` (stored time:
    the message's own timestamp has second precision from the phone's clock)."""
    cur.execute(
        "SELECT 1 FROM messages WHERE session_id = %s AND author = 'business' AND created_at > %s LIMIT 1",
        (session_id, since),
    )
    return cur.fetchone() is not None


def history(cur, session_id, token_id, limit: int) -> list[dict]:
    """The chat's newest `limit` messages before the burst, oldest first:
    text-bearing messages of the customer, the bot and the business's people,
    deleted ones left out, and the burst itself (the customer messages tied
    to this token) left out too, since it becomes the last turn."""
    if limit <= 0:
        return []
    cur.execute(
        """
        SELECT id, author, text, sent_at
          FROM messages
         WHERE session_id = %s
           AND author IN ('customer', 'business', 'bot')
           AND deleted_at IS NULL
           AND coalesce(btrim(text), '') <> ''
           AND NOT (author = 'customer' AND reply_token_id IS NOT DISTINCT FROM %s)
         ORDER BY sent_at DESC, id DESC
         LIMIT %s
        """,
        (session_id, token_id, limit),
    )
    return list(reversed(cur.fetchall()))


def prune_older_than(cur, cutoffs: dict, limit: int) -> int:
    """Deletes up to `limit` messages (text and raw body with them) stored
    before their tenant's cutoff ({tenant_id: cutoff}), oldest first; a newer
    event that still points at one (an edit of an old message) loses the link
    (ON DELETE SET NULL). Returns how many went."""
    return delete_before_cutoffs(cur, table="messages", key="id", age="created_at", cutoffs=cutoffs, limit=limit)
