"""Reply tokens, the send guard and the pause state of a chat: the plain
functions the llm and evolution services call in-process (a RealDictCursor
inside the caller's transaction as first argument) and the HTTP routes of
/tokens/* call too.

Lock order, everywhere: the session row first, then its tokens. The webhook
(human takeover) and the send guard both lock the session row, so one of them
always sees the other's result: a claim made after a takeover fails, and a
takeover after a claim cancels the claimed token.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from ..common.errors import ApiError, bad_request

ENDED = ("sent", "superseded", "cancelled", "failed")
OPEN = ("pending", "claimed")
# pauses that only a person lifts (API, `#bot on`); auto-resume leaves them
HAND_PAUSES = ("manual", "owner_command", "customer_request", "handoff")


# ---------------------------------------------------------------- helpers


def parse_token_id(token_id) -> uuid.UUID:
    try:
        return token_id if isinstance(token_id, uuid.UUID) else uuid.UUID(str(token_id))
    except ValueError:
        raise ApiError(404, "not_found", f"no reply token {token_id!r}", "reply_token") from None


def number_for(chat_id: str) -> str:
    """What Evolution's sendText wants: the digits of a phone JID, else the JID."""
    local, _, server = chat_id.partition("@")
    return local if server == "s.whatsapp.net" else chat_id


def _token(cur, token_id, *, lock=False) -> dict:
    cur.execute(
        "SELECT * FROM reply_tokens WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (parse_token_id(token_id),),
    )
    row = cur.fetchone()
    if row is None:
        raise ApiError(404, "not_found", f"no reply token {token_id}", "reply_token")
    return row


def _session_of_token(cur, token_id) -> tuple[dict, dict]:
    """Locks the token's session, then the token (the lock order above)."""
    token = _token(cur, token_id)
    cur.execute("SELECT * FROM sessions WHERE id = %s FOR UPDATE", (token["session_id"],))
    session = cur.fetchone()
    return session, _token(cur, token_id, lock=True)


def _end_token(cur, token_id, state: str, reason: str | None, error: str | None = None) -> dict:
    cur.execute(
        "UPDATE reply_tokens SET state = %s, reason = %s, error = COALESCE(%s, error), finished_at = now()"
        " WHERE id = %s AND state IN ('pending', 'claimed') RETURNING *",
        (state, reason, error, token_id),
    )
    return cur.fetchone()


def _outcome(token: dict) -> dict:
    out = {"state": token["state"], "reason": token["reason"]}
    if token["state"] == "failed":
        out["error"] = token["error"]
    return out


# ---------------------------------------------------------------- sessions


def lock_session(cur, tenant_id, chat_id: str, customer_name: str | None = None) -> dict:
    """The chat's session row, created if the chat is new, locked for this transaction."""
    cur.execute(
        "INSERT INTO sessions (tenant_id, chat_id, customer_name) VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant_id, chat_id) DO NOTHING",
        (tenant_id, chat_id, customer_name or ""),
    )
    cur.execute("SELECT * FROM sessions WHERE tenant_id = %s AND chat_id = %s FOR UPDATE", (tenant_id, chat_id))
    return cur.fetchone()


def cancel_open_tokens(cur, session_id, reason: str, states=OPEN) -> int:
    cur.execute(
        "UPDATE reply_tokens SET state = 'cancelled', reason = %s, finished_at = now()"
        " WHERE session_id = %s AND state = ANY(%s)",
        (reason, session_id, list(states)),
    )
    return cur.rowcount


def pause_session(cur, tenant_id, chat_id: str, reason: str, until: datetime | None = None) -> dict:
    """Pauses the chat (creating its session if needed) and cancels any reply in
    flight. `until` None means "until a person resumes it"."""
    session = lock_session(cur, tenant_id, chat_id)
    cur.execute(
        "UPDATE sessions SET paused = true, pause_reason = %s, paused_until = %s,"
        " paused_at = CASE WHEN paused THEN paused_at ELSE now() END, updated_at = now()"
        " WHERE id = %s RETURNING *",
        (reason, until, session["id"]),
    )
    session = cur.fetchone()
    cancel_open_tokens(cur, session["id"], reason)
    return session


def resume_session(cur, session_id) -> dict | None:
    cur.execute(
        "UPDATE sessions SET paused = false, pause_reason = NULL, paused_at = NULL, paused_until = NULL,"
        " updated_at = now() WHERE id = %s RETURNING *",
        (session_id,),
    )
    return cur.fetchone()


def resume_due_sessions(cur) -> int:
    """Auto-resume: chats paused by a person typing whose pause has run out.
    Hand pauses have no paused_until, and are excluded by reason as well."""
    cur.execute(
        "UPDATE sessions SET paused = false, pause_reason = NULL, paused_at = NULL, paused_until = NULL,"
        " updated_at = now()"
        " WHERE paused AND pause_reason = 'human_takeover' AND paused_until IS NOT NULL AND paused_until <= now()"
    )
    return cur.rowcount


# ---------------------------------------------------------------- creating tokens


def create_token(cur, session: dict, deadline_seconds: float) -> dict:
    """A new reply token for the (locked) session; it supersedes the chat's
    pending one and takes over that token's messages, so the whole burst is
    answered once."""
    new_id = uuid.uuid4()
    cur.execute(
        "UPDATE reply_tokens SET state = 'superseded', reason = 'newer_message', finished_at = now()"
        " WHERE session_id = %s AND state = 'pending' RETURNING id",
        (session["id"],),
    )
    older = [r["id"] for r in cur.fetchall()]
    cur.execute(
        "INSERT INTO reply_tokens (id, tenant_id, session_id, chat_id, deadline_at)"
        " VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING *",
        (new_id, session["tenant_id"], session["id"], session["chat_id"], deadline_seconds),
    )
    token = cur.fetchone()
    if older:
        cur.execute("UPDATE reply_tokens SET superseded_by = %s WHERE id = ANY(%s)", (new_id, older))
        cur.execute("UPDATE messages SET reply_token_id = %s WHERE reply_token_id = ANY(%s)", (new_id, older))
    return token


# ---------------------------------------------------------------- the flow's calls


def _burst(cur, token_id) -> list[dict]:
    cur.execute(
        "SELECT wa_message_id, message_type, text, sent_at FROM messages"
        " WHERE reply_token_id = %s AND author = 'customer' ORDER BY sent_at, id",
        (token_id,),
    )
    return cur.fetchall()


def check_token(cur, token_id) -> dict:
    """After the debounce wait: is this token still the one to answer, and what
    did the customer say in the burst (oldest first)?"""
    token = _token(cur, token_id)
    cur.execute("SELECT paused, pause_reason FROM sessions WHERE id = %s", (token["session_id"],))
    session = cur.fetchone()
    newest = token["state"] == "pending" and not session["paused"]
    reason = token["reason"]
    if token["state"] == "pending" and session["paused"]:
        reason = "paused"
    burst = _burst(cur, token["id"])
    return {
        "newest": newest,
        "state": token["state"],
        "reason": reason,
        "tenant_id": str(token["tenant_id"]),
        "chat_id": token["chat_id"],
        "texts": [m["text"] for m in burst if m["text"]],
        "messages": [
            {"wa_message_id": m["wa_message_id"], "type": m["message_type"], "text": m["text"],
             "sent_at": m["sent_at"].isoformat()}
            for m in burst
        ],
    }


def _human_since(cur, session: dict, token: dict) -> bool:
    """A person of the business wrote after the token was made. The message's
    own timestamp has second precision from the phone's clock, so the time we
    stored the message is checked too."""
    if session["last_human_at"] and session["last_human_at"] > token["created_at"]:
        return True
    cur.execute(
        "SELECT 1 FROM messages WHERE session_id = %s AND author = 'business' AND created_at > %s LIMIT 1",
        (session["id"], token["created_at"]),
    )
    return cur.fetchone() is not None


def _check_parts(parts) -> list[str]:
    if not isinstance(parts, list) or not parts:
        raise bad_request("parts must be a non-empty list of strings", "parts")
    for i, part in enumerate(parts):
        if not isinstance(part, str) or not part.strip():
            raise bad_request(f"parts[{i}] must be a non-empty string", f"parts[{i}]")
    return parts


def claim_send(cur, token_id, parts, handoff: bool = False) -> dict:
    """The send guard, right before sending: the token is still pending and the
    chat's newest, the chat is not paused, and no person wrote since the token
    was made. On success each part is in the outbound ledger as `claimed` (its
    text is what an early echo is matched on). A token that fails the guard is
    ended (cancelled or superseded) and never sent."""
    parts = _check_parts(parts)
    session, token = _session_of_token(cur, token_id)
    if token["state"] != "pending":
        return {"claimed": False, **_outcome(token),
                "reason": token["reason"] or ("already_claimed" if token["state"] == "claimed" else None)}

    refusal = None
    cur.execute(
        "SELECT 1 FROM reply_tokens WHERE session_id = %s AND created_at > %s AND id <> %s LIMIT 1",
        (session["id"], token["created_at"], token["id"]),
    )
    if cur.fetchone():
        refusal = ("superseded", "newer_message")
    elif session["paused"]:
        refusal = ("cancelled", "human_takeover" if session["pause_reason"] == "human_takeover" else "paused")
    elif _human_since(cur, session, token):
        refusal = ("cancelled", "human_takeover")
    if refusal:
        token = _end_token(cur, token["id"], *refusal)
        return {"claimed": False, **_outcome(token)}

    cur.execute(
        "UPDATE reply_tokens SET state = 'claimed', claimed_at = now(), handoff = %s,"
        " reply_text = COALESCE(reply_text, %s) WHERE id = %s",
        (bool(handoff), "\n\n".join(parts), token["id"]),
    )
    outbound_ids = []
    for n, text in enumerate(parts):
        cur.execute(
            "INSERT INTO outbound (tenant_id, chat_id, reply_token_id, part, text) VALUES (%s, %s, %s, %s, %s)"
            " RETURNING id",
            (token["tenant_id"], token["chat_id"], token["id"], n, text),
        )
        outbound_ids.append(cur.fetchone()["id"])
    cur.execute("SELECT instance_name FROM tenants WHERE id = %s", (token["tenant_id"],))
    return {
        "claimed": True,
        "number": number_for(token["chat_id"]),
        "instance": cur.fetchone()["instance_name"],
        "outbound_ids": outbound_ids,
    }


def confirm_send(cur, token_id, part: int, wa_message_id: str) -> dict:
    """Evolution answered the send of part `part` (0-based) with this message id:
    the id goes into the ledger, the text into history; with the last part
    confirmed the token is `sent` (a handoff token then pauses the chat).
    A token cancelled mid-send (a person took over) stays cancelled: the answer's
    state tells the caller to stop sending further parts."""
    if isinstance(part, bool) or not isinstance(part, int) or part < 0:
        raise bad_request("part must be a whole number from 0", "part")
    if not isinstance(wa_message_id, str) or not wa_message_id.strip():
        raise bad_request("wa_message_id must be a non-empty string", "wa_message_id")
    session, token = _session_of_token(cur, token_id)
    cur.execute(
        "SELECT * FROM outbound WHERE reply_token_id = %s AND part = %s FOR UPDATE", (token["id"], part)
    )
    row = cur.fetchone()
    if row is None:
        raise ApiError(404, "not_found", f"reply token {token['id']} has no claimed part {part}", "part")
    # an early echo may have bound this id to another claimed part with the same text
    cur.execute(
        "UPDATE outbound SET wa_message_id = NULL WHERE tenant_id = %s AND wa_message_id = %s AND id <> %s"
        " AND state = 'claimed'",
        (token["tenant_id"], wa_message_id, row["id"]),
    )
    cur.execute(
        "UPDATE outbound SET state = 'sent', wa_message_id = %s, confirmed_at = now(), error = NULL WHERE id = %s",
        (wa_message_id, row["id"]),
    )
    cur.execute(
        "INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text,"
        " sent_at, reply_token_id) VALUES (%s, %s, %s, %s, 'bot', 'conversation', %s, now(), %s)"
        " ON CONFLICT (tenant_id, wa_message_id) DO UPDATE SET reply_token_id = EXCLUDED.reply_token_id,"
        " author = 'bot'",
        (token["tenant_id"], session["id"], token["chat_id"], wa_message_id, row["text"], token["id"]),
    )
    cur.execute("UPDATE sessions SET last_bot_at = now(), updated_at = now() WHERE id = %s", (session["id"],))
    if token["state"] == "claimed":
        cur.execute(
            "SELECT count(*) FILTER (WHERE state <> 'sent') AS unsent FROM outbound WHERE reply_token_id = %s",
            (token["id"],),
        )
        if cur.fetchone()["unsent"] == 0:
            token = _end_token(cur, token["id"], "sent", None)
            if token["handoff"] and not session["paused"]:
                pause_session(cur, token["tenant_id"], token["chat_id"], "handoff")
    return {"part": part, **_outcome(token)}


def fail_token(cur, token_id, error) -> dict:
    """The reply could not be made or sent. Idempotent: a token already ended
    keeps its end. Parts not yet confirmed are marked failed in the ledger."""
    if not isinstance(error, str) or not error.strip():
        raise bad_request("error must be a non-empty string", "error")
    _, token = _session_of_token(cur, token_id)
    cur.execute(
        "UPDATE outbound SET state = 'failed', error = %s WHERE reply_token_id = %s AND state = 'claimed'",
        (error[:2000], token["id"]),
    )
    if token["state"] in OPEN:
        token = _end_token(cur, token["id"], "failed", None, error[:2000])
    return _outcome(token)


def cancel_token(cur, token_id, reason: str) -> dict:
    """Ends an open token as cancelled; an ended token keeps its end."""
    _, token = _session_of_token(cur, token_id)
    if token["state"] in OPEN:
        token = _end_token(cur, token["id"], "cancelled", reason)
    return _outcome(token)


def record_llm_result(cur, token_id, *, provider, model, outcome, tokens_in, tokens_out, latency_ms,
                      text=None, handoff=False) -> dict:
    """Accounting of the generation on the token (also on a superseded one: the
    tokens were spent). It changes no state: a failure is ended with fail_token."""
    token = _token(cur, token_id)
    cur.execute(
        "UPDATE reply_tokens SET llm_provider = %s, llm_model = %s, llm_outcome = %s, tokens_in = %s,"
        " tokens_out = %s, llm_latency_ms = %s, reply_text = COALESCE(%s, reply_text),"
        " handoff = handoff OR %s WHERE id = %s RETURNING *",
        (provider, model, outcome, tokens_in, tokens_out,
         None if latency_ms is None else round(latency_ms), text, bool(handoff), token["id"]),
    )
    return _outcome(cur.fetchone())


def recover_tokens(cur, older_than_seconds: float = 0, max_attempts: int = 3) -> dict:
    """Tokens past their deadline (by older_than_seconds more): a pending one is
    handed back for another try (at most max_attempts), then failed; a claimed
    one never confirmed is failed (whether it was sent is unknown)."""
    cur.execute(
        "SELECT t.id, t.tenant_id, t.chat_id, t.state, t.attempts, s.paused FROM reply_tokens t"
        " JOIN sessions s ON s.id = t.session_id"
        " WHERE t.state IN ('pending', 'claimed') AND t.deadline_at < now() - make_interval(secs => %s)"
        " ORDER BY t.deadline_at FOR UPDATE OF t SKIP LOCKED",
        (older_than_seconds,),
    )
    retry, failed = [], 0
    for t in cur.fetchall():
        if t["state"] == "claimed":
            _end_token(cur, t["id"], "failed", None, "send not confirmed before the deadline")
            cur.execute(
                "UPDATE outbound SET state = 'failed', error = 'not confirmed' WHERE reply_token_id = %s"
                " AND state = 'claimed'", (t["id"],))
            failed += 1
        elif t["paused"]:
            _end_token(cur, t["id"], "cancelled", "paused")
        elif t["attempts"] >= max_attempts:
            _end_token(cur, t["id"], "failed", None, f"no reply after {t['attempts']} recovery attempts")
            failed += 1
        else:
            cur.execute(
                "UPDATE reply_tokens SET attempts = attempts + 1,"
                " deadline_at = now() + make_interval(secs => %s) WHERE id = %s",
                (RECOVERY_MARGIN_SECONDS, t["id"]),
            )
            retry.append({"reply_token": str(t["id"]), "tenant_id": str(t["tenant_id"]), "chat_id": t["chat_id"]})
    return {"retry": retry, "failed": failed}


# how long the flow gets, beyond the debounce wait, to finish a reply before
# the recovery flow looks at the token again
RECOVERY_MARGIN_SECONDS = 120
