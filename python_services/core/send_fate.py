"""A send whose fate is unknown: Evolution timed out, the connection broke
before it answered, or it failed after it may have sent. Such a part is never
sent again blindly: it stays matchable as the bot's (`unknown` in the
outbound ledger) until its echo or Evolution's own message list tells the
truth (evolution/sending.py asks; collision/recording.py hears the echo)."""
from __future__ import annotations

from . import ledger, outbound


def send_tried(cur, token_id, part: int) -> dict | None:
    """A sendText for the part is about to go out (again): the part is
    `claimed`, its echo window counting from now. None when the part is no
    longer waiting to be sent (its echo turned up, a give-up ended it)."""
    return outbound.mark_tried(cur, ledger.parse_token_id(token_id), part)


def send_fate_unknown(cur, token_id, part: int, error: str) -> None:
    """Evolution timed out, the connection broke before it answered, or it
    failed after it may have sent the part: the part is `unknown`, still
    matched as the bot's by its text (never a person), and not sent again
    until its echo or Evolution's message list tells the truth."""
    outbound.mark_unknown(cur, ledger.parse_token_id(token_id), part, error[:2000])


def send_part(cur, token_id, part: int) -> dict | None:
    """The part as it stands: its state, text, and WhatsApp id once known."""
    return outbound.part(cur, ledger.parse_token_id(token_id), part)


def send_not_found(cur, token_id, part: int, error: str) -> bool:
    """Evolution has no such message: the unknown part was not sent (`failed`
    with the error until it is sent again). False when its echo bound an id
    meanwhile: then it was sent."""
    return outbound.mark_absent(cur, ledger.parse_token_id(token_id), part, error[:2000])


def sends_known(cur, tenant_id, wa_message_ids: list[str]) -> set[str]:
    """Which of these WhatsApp ids already belong to a send of the ledger (a
    message in Evolution's list that is an earlier send, not this one)."""
    return outbound.known_ids(cur, tenant_id, wa_message_ids)


def echo_matched(cur, outbound_id: int, wa_message_id: str) -> None:
    """An echo (send.message / a fromMe upsert) carried the text of this send
    (the rules matched it; the chat's session is locked by the caller). A
    claimed send gets the id bound, and Evolution's answer confirms it; an
    unknown or failed one was sent after all: confirmed by the echo, its token
    `sent` once every part is."""
    seen = outbound.by_id(cur, outbound_id)
    if seen is None or seen["reply_token_id"] is None:
        outbound.bind_echo(cur, outbound_id, wa_message_id)
        return
    # the lock order: session, token, then the part (as confirm_send)
    session, token = ledger.session_of_token(cur, seen["reply_token_id"])
    row = outbound.for_update(cur, outbound_id)
    if row["wa_message_id"] is not None or row["state"] == "sent":
        return
    if row["state"] == "claimed":
        outbound.bind_echo(cur, outbound_id, wa_message_id)
        return
    ledger.confirm_part(cur, session, token, row, wa_message_id, "echo")
