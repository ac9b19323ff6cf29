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
          reply_token_id, media: dict | None = None) -> int:
    """The message's id; a message already in history (the bot's confirm wrote
    it first, or another event type carried it) keeps its row. `media` is the
    reference of a photo, voice note... (core/media.py); a voice note whose
    text is Evolution's own transcript is marked transcribed by 'evolution'."""
    by_evolution = bool(media and media.get("speech_to_text") and text)
    cur.execute(
        "INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at,"
        " raw, reply_token_id, media, transcribed_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, wa_message_id) DO NOTHING RETURNING id",
        (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at, json.dumps(raw),
         reply_token_id, json.dumps(media) if media else None, "evolution" if by_evolution else None),
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
        "SELECT id, wa_message_id, message_type, text, sent_at, media, transcribed_by FROM messages"
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


def unrecorded(cur, session_id, *, after=None, before=None, limit: int = 500) -> list[dict]:
    """The chat's messages no event carries (mostly the bot's replies, stored
    when Evolution confirmed the send, whose echo has not come or never
    will) sent within (after, before], oldest first: the console's chat page
    puts them among the events."""
    cur.execute(
        "SELECT m.id, m.author, m.message_type, m.text, m.media, m.sent_at, m.edited_at, m.deleted_at"
        " FROM messages m WHERE m.session_id = %(session)s"
        " AND (%(after)s::timestamptz IS NULL OR m.sent_at > %(after)s)"
        " AND (%(before)s::timestamptz IS NULL OR m.sent_at <= %(before)s)"
        " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = m.id)"
        " ORDER BY m.sent_at DESC, m.id DESC LIMIT %(limit)s",
        {"session": session_id, "after": after, "before": before, "limit": limit},
    )
    return list(reversed(cur.fetchall()))


# ---------------------------------------------------------------- media (core/media.py, llm/transcribe.py)


def media_message(cur, tenant_id, wa_message_id: str) -> dict | None:
    """One of the tenant's messages with its media reference; None when the
    tenant has no such message (another tenant's id included)."""
    cur.execute(
        "SELECT id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at, media, transcribed_by,"
        " reply_token_id FROM messages WHERE tenant_id = %s AND wa_message_id = %s",
        (tenant_id, wa_message_id),
    )
    return cur.fetchone()


def untranscribed_voice_notes(cur, token_id) -> list[dict]:
    """The burst's voice notes nobody has transcribed or given up on yet,
    oldest first: [{"tenant_id", "wa_message_id"}]."""
    cur.execute(
        "SELECT tenant_id, wa_message_id FROM messages WHERE reply_token_id = %s AND author = 'customer'"
        " AND media->>'kind' = 'audio' AND transcribed_by IS NULL"
        " AND coalesce(media->'transcription'->>'state', '') NOT IN ('done', 'fallback') ORDER BY sent_at, id",
        (token_id,),
    )
    return cur.fetchall()


def claim_transcription(cur, message_id, stale_after_seconds: float) -> bool:
    """Marks a voice note as being transcribed, unless someone else is at it
    (a claim older than stale_after_seconds was abandoned: it is taken over)
    or it is already done. Two callers (the flow's node and the reply) never
    both pay for one voice note."""
    cur.execute(
        "UPDATE messages SET media = media || jsonb_build_object('transcription',"
        " jsonb_build_object('state', 'working', 'since', clock_timestamp()))"
        " WHERE id = %s AND transcribed_by IS NULL AND (media->'transcription' IS NULL"
        "  OR (media->'transcription'->>'state' = 'working'"
        "      AND (media->'transcription'->>'since')::timestamptz < clock_timestamp() - make_interval(secs => %s)))"
        " RETURNING id",
        (message_id, stale_after_seconds),
    )
    return cur.fetchone() is not None


def record_transcript(cur, message_id, *, text: str, by: str, model: str | None, seconds: float | None) -> None:
    """The transcript becomes the message's text (history and the burst read it)."""
    cur.execute(
        "UPDATE messages SET text = %s, transcribed_by = %s, transcription_model = %s, transcription_seconds = %s,"
        " media = media || jsonb_build_object('transcription', jsonb_build_object('state', 'done'))"
        " WHERE id = %s",
        (text, by, model, seconds, message_id),
    )


def record_transcription_fallback(cur, message_id, reason: str, detail: str) -> None:
    """The voice note stays without text; why, for the reply (the polite answer) and the timeline."""
    cur.execute(
        "UPDATE messages SET media = media || jsonb_build_object('transcription',"
        " jsonb_build_object('state', 'fallback', 'reason', %s::text, 'detail', %s::text)) WHERE id = %s",
        (reason, detail[:500], message_id),
    )


def transcription_usage_rows(cur, *, since, tenant_id=None) -> list[dict]:
    """Voice notes HybridFlow paid to transcribe (Evolution's own are not
    ours), per tenant, UTC day, provider and model."""
    cur.execute(
        """
        SELECT tenant_id,
               (created_at AT TIME ZONE 'UTC')::date AS day,
               transcribed_by AS provider,
               transcription_model AS model,
               count(*) AS transcriptions,
               coalesce(sum(transcription_seconds), 0) AS seconds
          FROM messages
         WHERE transcribed_by IS NOT NULL AND transcribed_by <> 'evolution'
           AND created_at >= %(since)s
           AND (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s::uuid)
         GROUP BY 1, 2, 3, 4
         ORDER BY 1, 2, 3, 4
        """,
        {"since": since, "tenant": tenant_id},
    )
    return cur.fetchall()


def customer_messages_per_day(cur, tenant_id, *, since) -> list[dict]:
    """The customers' messages per UTC day since `since` ({"day", "n"}; each
    stored once, so a duplicate delivery never counts twice): the console's usage page."""
    cur.execute(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM messages"
        " WHERE tenant_id = %s AND author = 'customer' AND created_at >= %s GROUP BY 1 ORDER BY 1",
        (tenant_id, since),
    )
    return cur.fetchall()


def prune_older_than(cur, cutoffs: dict, limit: int) -> int:
    """Deletes up to `limit` messages (text and raw body with them) stored
    before their tenant's cutoff ({tenant_id: cutoff}), oldest first; a newer
    event that still points at one (an edit of an old message) loses the link
    (ON DELETE SET NULL). Returns how many went."""
    return delete_before_cutoffs(cur, table="messages", key="id", age="created_at", cutoffs=cutoffs, limit=limit)
