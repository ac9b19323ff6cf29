"""Every query on `reply_tokens`: one row per answer the bot may give, from
the webhook that asked for it to its end (sent, superseded, cancelled or
failed), with the generation's accounting. The rules that move a token
between states are in ledger.py."""
from __future__ import annotations

from .batches import delete_before_cutoffs

import uuid


def get(cur, token_id, *, lock: bool = False) -> dict | None:
    cur.execute("SELECT * FROM reply_tokens WHERE id = %s" + (" FOR UPDATE" if lock else ""), (token_id,))
    return cur.fetchone()


def exists(cur, token_id) -> bool:
    cur.execute("SELECT 1 FROM reply_tokens WHERE id = %s", (token_id,))
    return cur.fetchone() is not None


def end(cur, token_id, state: str, reason: str | None, error: str | None = None) -> dict | None:
    """Ends an open token; None when it had already ended."""
    cur.execute(
        "UPDATE reply_tokens SET state = %s, reason = %s, error = COALESCE(%s, error), finished_at = now()"
        " WHERE id = %s AND state IN ('pending', 'claimed') RETURNING *",
        (state, reason, error, token_id),
    )
    return cur.fetchone()


def sent_after_all(cur, token_id, reason: str) -> dict | None:
    """A failed token whose parts all turned out to have reached WhatsApp (a
    late echo, Evolution's message list): it was sent. Its error stays, as
    the story of what went wrong on the way. None unless it was failed."""
    cur.execute(
        "UPDATE reply_tokens SET state = 'sent', reason = %s, finished_at = now()"
        " WHERE id = %s AND state = 'failed' RETURNING *",
        (reason, token_id),
    )
    return cur.fetchone()


def cancel_open(cur, session_id, reason: str, states) -> int:
    cur.execute(
        "UPDATE reply_tokens SET state = 'cancelled', reason = %s, finished_at = now()"
        " WHERE session_id = %s AND state = ANY(%s)",
        (reason, session_id, list(states)),
    )
    return cur.rowcount


def ended_unsent(cur, session_id, *, after=None, before=None, limit: int = 500) -> list[dict]:
    """The chat's replies that ended cancelled or failed within (after,
    before], oldest first (the console's chat page: "reply cancelled:
    someone wrote first")."""
    cur.execute(
        "SELECT id, state, reason, error, created_at, finished_at FROM reply_tokens WHERE session_id = %(session)s"
        " AND state IN ('cancelled', 'failed')"
        " AND (%(after)s::timestamptz IS NULL OR finished_at > %(after)s)"
        " AND (%(before)s::timestamptz IS NULL OR finished_at <= %(before)s)"
        " ORDER BY finished_at DESC, id LIMIT %(limit)s",
        {"session": session_id, "after": after, "before": before, "limit": limit},
    )
    return list(reversed(cur.fetchall()))


def supersede_pending(cur, session_id) -> list[uuid.UUID]:
    cur.execute(
        "UPDATE reply_tokens SET state = 'superseded', reason = 'newer_message', finished_at = now()"
        " WHERE session_id = %s AND state = 'pending' RETURNING id",
        (session_id,),
    )
    return [r["id"] for r in cur.fetchall()]


def insert(cur, token_id, *, tenant_id, session_id, chat_id, deadline_seconds: float, fixed_text: str | None = None,
           over_budget: bool = False) -> dict:
    cur.execute(
        "INSERT INTO reply_tokens (id, tenant_id, session_id, chat_id, deadline_at, fixed_text, over_budget)"
        " VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s), %s, %s) RETURNING *",
        (token_id, tenant_id, session_id, chat_id, deadline_seconds, fixed_text, over_budget),
    )
    return cur.fetchone()


def replies_since(cur, session_id, since) -> int:
    """The bot's replies in the chat made since `since` that went out or are
    going out (a limit counts them; superseded, cancelled and failed ones not)."""
    cur.execute("SELECT count(*) AS n FROM reply_tokens WHERE session_id = %s AND created_at >= %s"
                " AND state IN ('claimed', 'sent')", (session_id, since))
    return cur.fetchone()["n"]


def mark_superseded_by(cur, older_ids: list, newer_id) -> None:
    cur.execute("UPDATE reply_tokens SET superseded_by = %s WHERE id = ANY(%s)", (newer_id, older_ids))


def newer_exists(cur, token: dict) -> bool:
    cur.execute(
        "SELECT 1 FROM reply_tokens WHERE session_id = %s AND created_at > %s AND id <> %s LIMIT 1",
        (token["session_id"], token["created_at"], token["id"]),
    )
    return cur.fetchone() is not None


def mark_claimed(cur, token_id, *, handoff: bool, text: str) -> None:
    cur.execute(
        "UPDATE reply_tokens SET state = 'claimed', claimed_at = now(), handoff = %s,"
        " reply_text = COALESCE(reply_text, %s) WHERE id = %s",
        (bool(handoff), text, token_id),
    )


def record_generation(cur, token_id, *, provider, model, outcome, tokens_in, tokens_out, latency_ms, text,
                      handoff) -> dict:
    cur.execute(
        "UPDATE reply_tokens SET llm_provider = %s, llm_model = %s, llm_outcome = %s, tokens_in = %s,"
        " tokens_out = %s, llm_latency_ms = %s, reply_text = COALESCE(%s, reply_text),"
        " handoff = handoff OR %s WHERE id = %s RETURNING *",
        (provider, model, outcome, tokens_in, tokens_out,
         None if latency_ms is None else round(latency_ms), text, bool(handoff), token_id),
    )
    return cur.fetchone()



def record_images(cur, token_id, *, images: int, image_tokens: int) -> None:
    """The photos a reply showed the model, and their share of tokens_in (usage)."""
    cur.execute("UPDATE reply_tokens SET images = %s, image_tokens = %s WHERE id = %s",
                (images, image_tokens, token_id))

def overdue_for_update(cur, older_than_seconds: float) -> list[dict]:
    """Open tokens past their deadline (by older_than_seconds more), with their
    chat's pause state; rows another recovery holds are skipped."""
    cur.execute(
        "SELECT t.id, t.tenant_id, t.chat_id, t.state, t.attempts, s.paused FROM reply_tokens t"
        " JOIN sessions s ON s.id = t.session_id"
        " WHERE t.state IN ('pending', 'claimed') AND t.deadline_at < now() - make_interval(secs => %s)"
        " ORDER BY t.deadline_at FOR UPDATE OF t SKIP LOCKED",
        (older_than_seconds,),
    )
    return cur.fetchall()


def retry_later(cur, token_id, deadline_seconds: float) -> None:
    cur.execute(
        "UPDATE reply_tokens SET attempts = attempts + 1,"
        " deadline_at = now() + make_interval(secs => %s) WHERE id = %s",
        (deadline_seconds, token_id),
    )


def usage_rows(cur, *, since, tenant_id=None) -> list[dict]:
    """Replies that reached a provider, per tenant, UTC day and model."""
    cur.execute(
        """
        SELECT tenant_id,
               (created_at AT TIME ZONE 'UTC')::date AS day,
               llm_provider AS provider,
               llm_model AS model,
               count(*) AS replies,
               count(*) FILTER (WHERE llm_outcome = 'failed') AS failed,
               coalesce(sum(tokens_in), 0) AS tokens_in,
               coalesce(sum(tokens_out), 0) AS tokens_out,
               coalesce(sum(images), 0) AS images,
               coalesce(sum(image_tokens), 0) AS image_tokens
          FROM reply_tokens
         WHERE llm_outcome IS NOT NULL
           AND created_at >= %(since)s
           AND (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s::uuid)
         GROUP BY 1, 2, 3, 4
         ORDER BY 1, 2, 3, 4
        """,
        {"since": since, "tenant": tenant_id},
    )
    return cur.fetchall()


def replies_per_day(cur, tenant_id, *, since) -> list[dict]:
    """The bot's replies that reached WhatsApp per UTC day since `since`:
    {"day", "replies", "handoffs" (the reply handed the chat to a person),
    "response_avg_s", "response_p90_s"}. A reply's response time runs from
    the customer's message it answers (the last of a burst: its token's
    creation) to the send confirmed, the debounce wait included: what the
    customer waits."""
    cur.execute(
        """
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day,
               count(*) AS replies,
               count(*) FILTER (WHERE handoff) AS handoffs,
               avg(extract(epoch FROM finished_at - created_at)) AS response_avg_s,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at))
                   AS response_p90_s
          FROM reply_tokens
         WHERE tenant_id = %s AND state = 'sent' AND created_at >= %s
         GROUP BY 1
         ORDER BY 1
        """,
        (tenant_id, since),
    )
    return cur.fetchall()


def prune_older_than(cur, cutoffs: dict, limit: int) -> int:
    """Deletes up to `limit` ended reply tokens made before their tenant's
    cutoff ({tenant_id: cutoff}) that no message and no send refers to any
    more: a token is kept as long as the messages it belongs to. Returns how
    many went."""
    return delete_before_cutoffs(
        cur, table="reply_tokens", key="id", age="created_at", cutoffs=cutoffs, limit=limit,
        also="t.finished_at IS NOT NULL"
             " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.reply_token_id = t.id)"
             " AND NOT EXISTS (SELECT 1 FROM outbound o WHERE o.reply_token_id = t.id)")
