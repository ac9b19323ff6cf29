"""Every query on `outbound`, the ledger of the bot's sends: one row per
WhatsApp message a reply is split into, `claimed` before it is sent (its
text is what an early echo is matched on), `unknown` when Evolution timed
out or failed after it may have sent it, `sent` with its WhatsApp id once
known (and how: Evolution's answer, the echo, or Evolution's message list),
or `failed`."""
from __future__ import annotations

from .batches import delete_before_cutoffs


def insert_claimed(cur, *, tenant_id, chat_id, reply_token_id, part: int, text: str) -> int:
    cur.execute(
        "INSERT INTO outbound (tenant_id, chat_id, reply_token_id, part, text) VALUES (%s, %s, %s, %s, %s)"
        " RETURNING id",
        (tenant_id, chat_id, reply_token_id, part, text),
    )
    return cur.fetchone()["id"]


def end_unanswered(cur, outbound_id: int, error: str, maybe_sent: bool) -> None:
    """A send of no reply (a notification) that Evolution did not confirm:
    `unknown` when it may have gone out (its echo is still the bot's for the
    echo window), else `failed`."""
    cur.execute("UPDATE outbound SET state = %s, error = %s WHERE id = %s AND state = 'claimed'",
                ("unknown" if maybe_sent else "failed", error[:2000], outbound_id))


def part_for_update(cur, reply_token_id, part: int) -> dict | None:
    cur.execute("SELECT * FROM outbound WHERE reply_token_id = %s AND part = %s FOR UPDATE", (reply_token_id, part))
    return cur.fetchone()


def unbind_other_claims(cur, tenant_id, wa_message_id: str, keep_id: int) -> None:
    """An early echo may have bound this id to another part with the same text
    that is not sent (claimed, or unknown since)."""
    cur.execute(
        "UPDATE outbound SET wa_message_id = NULL WHERE tenant_id = %s AND wa_message_id = %s AND id <> %s"
        " AND state <> 'sent'",
        (tenant_id, wa_message_id, keep_id),
    )


def mark_sent(cur, outbound_id: int, wa_message_id: str, confirmed_by: str = "answer") -> None:
    """The part reached WhatsApp as this message; an error of an earlier try
    (the timeout that made its fate unknown) is kept as its history."""
    cur.execute(
        "UPDATE outbound SET state = 'sent', wa_message_id = %s, confirmed_at = now(), confirmed_by = %s"
        " WHERE id = %s",
        (wa_message_id, confirmed_by, outbound_id),
    )


def part(cur, reply_token_id, part_no: int) -> dict | None:
    """A part as it stands (no lock): what a send waiting for the truth reads."""
    cur.execute("SELECT id, state, text, wa_message_id, claimed_at, tried_at, error FROM outbound"
                " WHERE reply_token_id = %s AND part = %s", (reply_token_id, part_no))
    return cur.fetchone()


def mark_tried(cur, reply_token_id, part_no: int) -> dict | None:
    """A sendText for the part is about to go out (again, after Evolution said
    it has no such message): claimed, its echo window starting now."""
    cur.execute(
        "UPDATE outbound SET state = 'claimed', tried_at = now() WHERE reply_token_id = %s AND part = %s"
        " AND state IN ('claimed', 'unknown') AND wa_message_id IS NULL RETURNING id, tried_at",
        (reply_token_id, part_no),
    )
    return cur.fetchone()


def mark_unknown(cur, reply_token_id, part_no: int, error: str) -> None:
    """Evolution may or may not have sent the part (timeout, broken connection, 5xx)."""
    cur.execute("UPDATE outbound SET state = 'unknown', error = %s WHERE reply_token_id = %s AND part = %s"
                " AND state = 'claimed'", (error, reply_token_id, part_no))


def mark_absent(cur, reply_token_id, part_no: int, error: str) -> bool:
    """Evolution has no such message: the unknown part was not sent. False when
    an echo bound its id meanwhile (then it was)."""
    cur.execute("UPDATE outbound SET state = 'failed', error = %s WHERE reply_token_id = %s AND part = %s"
                " AND state = 'unknown' AND wa_message_id IS NULL RETURNING id", (error, reply_token_id, part_no))
    return cur.fetchone() is not None


def confirmations(cur, reply_token_id) -> set[str]:
    """How the token's sent parts are known to be sent."""
    cur.execute("SELECT DISTINCT confirmed_by FROM outbound WHERE reply_token_id = %s AND confirmed_by IS NOT NULL",
                (reply_token_id,))
    return {r["confirmed_by"] for r in cur.fetchall()}


def known_ids(cur, tenant_id, wa_message_ids: list[str]) -> set[str]:
    """Which of these WhatsApp ids are already some send of the ledger."""
    if not wa_message_ids:
        return set()
    cur.execute("SELECT wa_message_id FROM outbound WHERE tenant_id = %s AND wa_message_id = ANY(%s)",
                (tenant_id, list(wa_message_ids)))
    return {r["wa_message_id"] for r in cur.fetchall()}


def unsent_count(cur, reply_token_id) -> int:
    cur.execute("SELECT count(*) FILTER (WHERE state <> 'sent') AS unsent FROM outbound WHERE reply_token_id = %s",
                (reply_token_id,))
    return cur.fetchone()["unsent"]


def fail_claimed(cur, reply_token_id, error: str) -> None:
    cur.execute("UPDATE outbound SET state = 'failed', error = %s WHERE reply_token_id = %s AND state = 'claimed'",
                (error, reply_token_id))


def in_ledger(cur, tenant_id, wa_message_id: str) -> bool:
    cur.execute("SELECT 1 FROM outbound WHERE tenant_id = %s AND wa_message_id = %s", (tenant_id, wa_message_id))
    return cur.fetchone() is not None


def unconfirmed(cur, tenant_id, chat_id: str, since) -> list[dict]:
    """The chat's sends whose WhatsApp id is not known yet, tried (or claimed)
    since `since`: an echo may be one of them. Claimed ones (the echo can beat
    Evolution's answer), unknown ones (Evolution timed out or failed after it
    may have sent), and failed ones that went out to Evolution (a failure
    recorded before the message turned up after all)."""
    cur.execute(
        "SELECT id, text, state, claimed_at, tried_at FROM outbound WHERE tenant_id = %s AND chat_id = %s"
        " AND wa_message_id IS NULL AND state IN ('claimed', 'unknown', 'failed')"
        " AND (state <> 'failed' OR tried_at IS NOT NULL) AND COALESCE(tried_at, claimed_at) >= %s"
        " ORDER BY COALESCE(tried_at, claimed_at), id",
        (tenant_id, chat_id, since),
    )
    return cur.fetchall()


def by_id(cur, outbound_id: int) -> dict | None:
    cur.execute("SELECT * FROM outbound WHERE id = %s", (outbound_id,))
    return cur.fetchone()


def for_update(cur, outbound_id: int) -> dict | None:
    cur.execute("SELECT * FROM outbound WHERE id = %s FOR UPDATE", (outbound_id,))
    return cur.fetchone()


def bind_echo(cur, outbound_id: int, wa_message_id: str) -> None:
    # the send's own answer will confirm the same id; binding it now keeps a
    # second message with the same text from matching this send again
    cur.execute("UPDATE outbound SET wa_message_id = %s WHERE id = %s AND wa_message_id IS NULL",
                (wa_message_id, outbound_id))


def prune_older_than(cur, cutoffs: dict, limit: int) -> int:
    """Deletes up to `limit` sends claimed before their tenant's cutoff
    ({tenant_id: cutoff}) whose message is no longer in history: a send is
    kept as long as the message it became. Returns how many went."""
    return delete_before_cutoffs(
        cur, table="outbound", key="id", age="claimed_at", cutoffs=cutoffs, limit=limit,
        also="NOT EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = t.tenant_id"
             " AND m.wa_message_id = t.wa_message_id)")
