"""The reply ledger and the send guard: reply tokens from the webhook that
asks for an answer to its one end, and the pause state of a chat (a pause
by hand or the schedule's resume, with its timeline row, is
core/chat_pauses.py's, over pause_session and resume_session). Plain
functions over a RealDictCursor inside the caller's transaction: the
collision service calls them from the webhook and the admin API, the llm
service before and after generating, the evolution service around each send.

Lock order, everywhere: the session row first, then its tokens, then their
sends (outbound rows). The webhook (human takeover) and the send guard both
lock the session row, so one of them always sees the other's result: a claim
made after a takeover fails, and a takeover after a claim cancels the claimed
token. When Postgres' lock timeout fires while waiting for a session row
(see common/db.py), the transaction rolls back whole and the caller gets a
503: nothing is half-recorded, and the webhook is delivered again.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from ..common.errors import ApiError, bad_request
from . import events, messages, outbound, reply_tokens, sessions, tenants
from .jids import number_for
from .payload import MAX_ID_CHARS

OPEN = ("pending", "claimed")
# how a sent part is known to have reached WhatsApp (outbound.confirmed_by)
CONFIRMED_BY = ("answer", "echo", "evolution")
# how long the flow gets, beyond the debounce wait, to finish a reply before
# the recovery flow looks at the token again (Config.reply_deadline_margin,
# REPLY_DEADLINE_MARGIN_SECONDS, is the one setting; this is its default)
RECOVERY_MARGIN_SECONDS = 120.0


# ---------------------------------------------------------------- helpers


def parse_token_id(token_id) -> uuid.UUID:
    try:
        return token_id if isinstance(token_id, uuid.UUID) else uuid.UUID(str(token_id))
    except ValueError:
        raise ApiError(404, "not_found", f"no reply token {token_id!r}", "reply_token") from None


def _token(cur, token_id, *, lock=False) -> dict:
    row = reply_tokens.get(cur, parse_token_id(token_id), lock=lock)
    if row is None:
        raise ApiError(404, "not_found", f"no reply token {token_id}", "reply_token")
    return row


def session_of_token(cur, token_id) -> tuple[dict, dict]:
    """Locks the token's session, then the token (the lock order above)."""
    token = _token(cur, token_id)
    session = sessions.by_id(cur, token["session_id"], lock=True)
    return session, _token(cur, token_id, lock=True)


def _outcome(token: dict) -> dict:
    out = {"state": token["state"], "reason": token["reason"]}
    if token["state"] == "failed":
        out["error"] = token["error"]
    return out


# ---------------------------------------------------------------- sessions


def lock_session(cur, tenant_id, chat_id: str, customer_name: str | None = None) -> dict:
    """The chat's session row, created if the chat is new, locked for this transaction."""
    return sessions.lock(cur, tenant_id, chat_id, customer_name)


def cancel_open_tokens(cur, session_id, reason: str, states=OPEN) -> int:
    return reply_tokens.cancel_open(cur, session_id, reason, states)


# who paused a chat (sessions.paused_by) when the pause came from a webhook
PAUSED_BY = {
    "human_takeover": events.OWNERS_PHONE,
    "owner_command": events.OWNERS_PHONE,
    "handoff": f"{events.CUSTOMER} (asked for a person)",
    "customer_request": events.CUSTOMER,
}


def pause_session(cur, tenant_id, chat_id: str, reason: str, until: datetime | None = None,
                  by: str | None = None) -> dict:
    """Pauses the chat (creating its session if needed) and cancels any reply in
    flight. `until` None means "until a person resumes it"; `by` names who
    paused it (a webhook's pause: from its reason)."""
    session = sessions.lock(cur, tenant_id, chat_id)
    session = sessions.set_paused(cur, session["id"], reason, until, by or PAUSED_BY.get(reason))
    cancel_open_tokens(cur, session["id"], reason)
    return session


def resume_session(cur, session_id) -> dict | None:
    return sessions.set_resumed(cur, session_id)


# ---------------------------------------------------------------- creating tokens


def create_token(cur, session: dict, deadline_seconds: float, fixed_text: str | None = None,
                 over_budget: bool = False) -> dict:
    """A new reply token for the (locked) session; it supersedes the chat's
    pending one and takes over that token's messages, so the whole burst is
    answered once. `fixed_text`: the rules' own text (the away message), sent
    as it is; `over_budget`: only the offline provider may write it."""
    new_id = uuid.uuid4()
    older = reply_tokens.supersede_pending(cur, session["id"])
    token = reply_tokens.insert(cur, new_id, tenant_id=session["tenant_id"], session_id=session["id"],
                                chat_id=session["chat_id"], deadline_seconds=deadline_seconds,
                                fixed_text=fixed_text, over_budget=over_budget)
    if older:
        reply_tokens.mark_superseded_by(cur, older, new_id)
        messages.move_to_token(cur, new_id, older)
    return token


# ---------------------------------------------------------------- the reply path


def check_token(cur, token_id) -> dict:
    """After the debounce wait: is this token still the one to answer, and what
    did the customer say in the burst (oldest first)?"""
    token = _token(cur, token_id)
    session = sessions.by_id(cur, token["session_id"])
    newest = token["state"] == "pending" and not session["paused"]
    reason = token["reason"]
    if token["state"] == "pending" and session["paused"]:
        reason = "paused"
    burst = messages.burst(cur, token["id"])
    return {
        "newest": newest,
        "state": token["state"],
        "reason": reason,
        "tenant_id": str(token["tenant_id"]),
        "chat_id": token["chat_id"],
        # the rules' own text (the away message: no LLM), and whether only the offline provider may answer
        "fixed_text": token.get("fixed_text"),
        "over_budget": bool(token.get("over_budget")),
        "texts": [m["text"] for m in burst if m["text"]],
        "messages": [
            {"wa_message_id": m["wa_message_id"], "type": m["message_type"], "text": m["text"],
             "sent_at": m["sent_at"].isoformat()}
            for m in burst
        ],
    }


def _human_since(cur, session: dict, token: dict) -> bool:
    """A person of the business wrote after the token was made (by the phone's
    clock, or by the time we stored the message)."""
    if session["last_human_at"] and session["last_human_at"] > token["created_at"]:
        return True
    return messages.business_wrote_since(cur, session["id"], token["created_at"])


def _check_parts(parts) -> list[str]:
    if not isinstance(parts, list) or not parts:
        raise bad_request("parts must be a non-empty list of strings", "parts")
    for i, part in enumerate(parts):
        if not isinstance(part, str) or not part.strip():
            raise bad_request(f"parts[{i}] must be a non-empty string", f"parts[{i}]")
    return parts


def _refusal(cur, session: dict, token: dict) -> tuple[str, str] | None:
    """Why the guard refuses this send (state, reason), or None to let it go."""
    if reply_tokens.newer_exists(cur, token):
        return "superseded", "newer_message"
    if session["paused"]:
        return "cancelled", "human_takeover" if session["pause_reason"] == "human_takeover" else "paused"
    if _human_since(cur, session, token):
        return "cancelled", "human_takeover"
    return None


def claim_send(cur, token_id, parts, handoff: bool = False) -> dict:
    """The send guard, right before sending: the token is still pending and the
    chat's newest, the chat is not paused, and no person wrote since the token
    was made. On success each part is in the outbound ledger as `claimed` (its
    text is what an early echo is matched on). A token that fails the guard is
    ended (cancelled or superseded) and never sent."""
    parts = _check_parts(parts)
    session, token = session_of_token(cur, token_id)
    if token["state"] != "pending":
        return {"claimed": False, **_outcome(token),
                "reason": token["reason"] or ("already_claimed" if token["state"] == "claimed" else None)}
    refusal = _refusal(cur, session, token)
    if refusal:
        token = reply_tokens.end(cur, token["id"], *refusal)
        return {"claimed": False, **_outcome(token)}

    reply_tokens.mark_claimed(cur, token["id"], handoff=handoff, text="\n\n".join(parts))
    outbound_ids = [
        outbound.insert_claimed(cur, tenant_id=token["tenant_id"], chat_id=token["chat_id"],
                                reply_token_id=token["id"], part=n, text=text)
        for n, text in enumerate(parts)
    ]
    return {
        "claimed": True,
        "number": number_for(token["chat_id"]),
        "instance": tenants.instance_name_of(cur, token["tenant_id"]),
        "outbound_ids": outbound_ids,
    }


def confirm_send(cur, token_id, part: int, wa_message_id: str, confirmed_by: str = "answer") -> dict:
    """Part `part` (0-based) reached WhatsApp as this message id, as Evolution
    answered the send (`confirmed_by` "answer"), or as learnt afterwards when
    the send's fate was unknown: from its echo ("echo") or from Evolution's
    message list ("evolution"). The id goes into the ledger, the text into
    history; with the last part confirmed the token is `sent` (reason
    `confirmed_by_echo` / `confirmed_by_evolution` when a part was learnt so;
    a handoff token then pauses the chat). A token failed meanwhile (the
    recovery flow, a give-up) becomes `sent` too: it was. A token cancelled
    mid-send (a person took over) stays cancelled: the answer's state tells
    the caller to stop sending further parts."""
    if confirmed_by not in CONFIRMED_BY:
        raise bad_request(f"confirmed_by must be one of {', '.join(CONFIRMED_BY)}", "confirmed_by")
    if isinstance(part, bool) or not isinstance(part, int) or part < 0:
        raise bad_request("part must be a whole number from 0", "part")
    if not isinstance(wa_message_id, str) or not wa_message_id.strip():
        raise bad_request("wa_message_id must be a non-empty string", "wa_message_id")
    if len(wa_message_id) > MAX_ID_CHARS or "\x00" in wa_message_id:
        raise bad_request(f"wa_message_id must be a message id (at most {MAX_ID_CHARS} characters)", "wa_message_id")
    session, token = session_of_token(cur, token_id)
    row = outbound.part_for_update(cur, token["id"], part)
    if row is None:
        raise ApiError(404, "not_found", f"reply token {token['id']} has no claimed part {part}", "part")
    token = confirm_part(cur, session, token, row, wa_message_id, confirmed_by)
    return {"part": part, **_outcome(token)}


def confirm_part(cur, session: dict, token: dict, row: dict, wa_message_id: str, confirmed_by: str) -> dict:
    """The part reached WhatsApp (session and token locked, in that order).
    A part already confirmed keeps its first confirmation."""
    if row["state"] != "sent":
        outbound.unbind_other_claims(cur, token["tenant_id"], wa_message_id, row["id"])
        outbound.mark_sent(cur, row["id"], wa_message_id, confirmed_by)
        messages.store_bot_reply(cur, tenant_id=token["tenant_id"], session_id=session["id"],
                                 chat_id=token["chat_id"], wa_message_id=wa_message_id, text=row["text"],
                                 reply_token_id=token["id"])
        sessions.mark_bot_wrote(cur, session["id"])
    if token["state"] in ("claimed", "failed") and outbound.unsent_count(cur, token["id"]) == 0:
        reason = _how_it_was_learnt(outbound.confirmations(cur, token["id"]))
        if token["state"] == "claimed":
            token = reply_tokens.end(cur, token["id"], "sent", reason)
        else:
            token = reply_tokens.sent_after_all(cur, token["id"], reason or "confirmed_late")
        if token["handoff"] and not session["paused"]:
            pause_session(cur, token["tenant_id"], token["chat_id"], "handoff")
    return token


def _how_it_was_learnt(confirmations: set[str]) -> str | None:
    """The sent token's reason: None when Evolution answered every part, else
    how the truth about a part whose fate was unknown came in."""
    if "echo" in confirmations:
        return "confirmed_by_echo"
    if "evolution" in confirmations:
        return "confirmed_by_evolution"
    return None


def fail_token(cur, token_id, error) -> dict:
    """The reply could not be made or sent. Idempotent: a token already ended
    keeps its end. Parts not yet confirmed are marked failed in the ledger."""
    if not isinstance(error, str) or not error.strip():
        raise bad_request("error must be a non-empty string", "error")
    _, token = session_of_token(cur, token_id)
    outbound.fail_claimed(cur, token["id"], error[:2000])
    if token["state"] in OPEN:
        token = reply_tokens.end(cur, token["id"], "failed", None, error[:2000])
    return _outcome(token)


def cancel_token(cur, token_id, reason: str) -> dict:
    """Ends an open token as cancelled; an ended token keeps its end."""
    _, token = session_of_token(cur, token_id)
    if token["state"] in OPEN:
        token = reply_tokens.end(cur, token["id"], "cancelled", reason)
    return _outcome(token)


def record_llm_result(cur, token_id, *, provider, model, outcome, tokens_in, tokens_out, latency_ms,
                      text=None, handoff=False) -> dict:
    """Accounting of the generation on the token (also on a superseded one: the
    tokens were spent). It changes no state: a failure is ended with fail_token."""
    token = _token(cur, token_id)
    row = reply_tokens.record_generation(cur, token["id"], provider=provider, model=model, outcome=outcome,
                                         tokens_in=tokens_in, tokens_out=tokens_out, latency_ms=latency_ms,
                                         text=text, handoff=handoff)
    return _outcome(row)


def recover_tokens(cur, older_than_seconds: float = 0, max_attempts: int = 3,
                   margin_seconds: float = RECOVERY_MARGIN_SECONDS) -> dict:
    """Tokens past their deadline (by older_than_seconds more): a pending one is
    handed back for another try (at most max_attempts, each with a new deadline
    margin_seconds away), then failed; a claimed one never confirmed is failed
    (whether it was sent is unknown)."""
    retry, failed = [], 0
    for t in reply_tokens.overdue_for_update(cur, older_than_seconds):
        if t["state"] == "claimed":
            reply_tokens.end(cur, t["id"], "failed", None, "send not confirmed before the deadline")
            outbound.fail_claimed(cur, t["id"], "not confirmed")
            failed += 1
        elif t["paused"]:
            reply_tokens.end(cur, t["id"], "cancelled", "paused")
        elif t["attempts"] >= max_attempts:
            reply_tokens.end(cur, t["id"], "failed", None, f"no reply after {t['attempts']} recovery attempts")
            failed += 1
        else:
            reply_tokens.retry_later(cur, t["id"], margin_seconds)
            retry.append({"reply_token": str(t["id"]), "tenant_id": str(t["tenant_id"]), "chat_id": t["chat_id"]})
    return {"retry": retry, "failed": failed}
