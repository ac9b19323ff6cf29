"""Sending a reply: split it into messages, claim the send guard, type, send
each part, confirm each WhatsApp id at once. Every database step is its own
short transaction; no transaction is open while Evolution is being called.

Every gateway problem ends as a value: {"outcome": "failed", "error", "status"}
recorded on the reply token; the guard refusing ends as "cancelled"."""
from __future__ import annotations

import logging
import re

from flask import current_app

from ..collision import tokens
from ..common import db
from ..common.logs import log_context, log_event
from ..common.settings import effective_settings
from .client import EvolutionClient, EvolutionError

log = logging.getLogger("hybridflow.evolution.send")

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_PHONE_JID = re.compile(r"^\+?(\d{6,20})(?:@s\.whatsapp\.net|@c\.us)?$")


def split_reply(text: str) -> list[str]:
    """The reply's paragraphs (split at blank lines), each one WhatsApp message."""
    normalised = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return [part.strip() for part in _BLANK_LINE.split(normalised) if part.strip()]


def typing_delay_ms(text: str, settings: dict) -> int:
    """How long 'typing…' shows before a message: its length x time_per_char,
    clamped to typing_min_ms..typing_max_ms."""
    low, high = settings["typing_min_ms"], settings["typing_max_ms"]
    return int(round(min(max(len(text) * settings["time_per_char"], low), high)))


def phone_number(value) -> str | None:
    """The digits to send to, from a phone JID or a number; None for a @lid
    (sending to a LID fails on some Evolution versions) or anything else."""
    if not isinstance(value, str):
        return None
    match = _PHONE_JID.match(value.strip().replace(" ", "").replace("-", ""))
    return match.group(1) if match else None


def client_for(tenant: dict, env: dict, default_timeout: float) -> EvolutionClient:
    return EvolutionClient(
        tenant["evo_server_url"], tenant["evo_api_key"],
        timeout=float(env.get("EVO_TIMEOUT") or default_timeout),
        attempts=int(env.get("EVO_SEND_ATTEMPTS") or 3),
        backoff=float(env.get("EVO_RETRY_BACKOFF") or 0.5),
    )


def tenant_by_instance(cur, instance: str) -> dict | None:
    cur.execute(
        "SELECT id, instance_name, evo_server_url, evo_api_key, settings FROM tenants WHERE instance_name = %s",
        (instance,),
    )
    return cur.fetchone()


def _fail(token_id, error: str, status=None, sent_ids=()) -> dict:
    with db.transaction() as cur:
        tokens.fail_token(cur, token_id, error)
    log_event(log, "send failed", logging.WARNING, reply_token=str(token_id), error=error, status=status)
    return {"outcome": "failed", "error": error, "status": status, "wa_message_ids": list(sent_ids)}


def _confirm(token_id, part_no: int, wa_id: str) -> dict:
    with db.transaction() as cur:
        return tokens.confirm_send(cur, token_id, part_no, wa_id)


def _still_claimed(token_id) -> dict | None:
    """After typing (seconds may have passed): None while the token is still ours,
    else the token's check (the owner typed, the chat was paused...)."""
    with db.transaction() as cur:
        check = tokens.check_token(cur, token_id)
    return None if check.get("state") == "claimed" else check


def send_reply(token_id, text: str, handoff: bool = False) -> dict:
    parts = split_reply(text)
    with db.transaction() as cur:
        claim = tokens.claim_send(cur, token_id, parts, handoff)
        tenant = tenant_by_instance(cur, claim["instance"]) if claim.get("claimed") else None
    if not claim.get("claimed"):
        return {"outcome": "cancelled", "reason": claim.get("reason") or claim.get("state"),
                "state": claim.get("state")}
    log_context(tenant=claim["instance"], chat=claim.get("number"))

    number = phone_number(claim.get("number"))
    if number is None:
        return _fail(token_id, f"no phone number to send to (chat {claim.get('number')!r}); "
                               "replying to a @lid is not supported")
    if tenant is None:
        return _fail(token_id, f"no tenant for instance {claim['instance']!r}")

    cfg = current_app.config["HF"]
    client = client_for(tenant, cfg.env, cfg.http_timeout)
    settings = effective_settings(tenant["settings"])
    sent: list[str] = []
    for part_no, part in enumerate(parts):
        if settings["typing"]:
            try:
                client.send_presence(claim["instance"], number, typing_delay_ms(part, settings))
            except EvolutionError as err:
                # typing is a courtesy: the send below meets (and reports) any real problem
                log_event(log, "typing presence failed", logging.WARNING, kind=err.kind, error=err.message)
            refused = _still_claimed(token_id)
            if refused is not None:
                return {"outcome": "cancelled", "reason": refused.get("reason") or refused.get("state"),
                        "state": refused.get("state"), "wa_message_ids": sent}
        try:
            answer = client.send_text(claim["instance"], number, part)
        except EvolutionError as err:
            return _fail(token_id, err.message, err.status, sent)
        wa_id = answer["key"]["id"]
        # the message is out: its id must reach the ledger (or its echo would pass
        # for a person typing), also across a database restart
        confirmed = db.retry_on_disconnect(lambda: _confirm(token_id, part_no, wa_id))
        sent.append(wa_id)
        if confirmed.get("state") not in ("claimed", "sent"):
            # a person took over while this part was on its way: no further parts
            return {"outcome": "cancelled", "reason": confirmed.get("reason") or confirmed.get("state"),
                    "state": confirmed.get("state"), "wa_message_ids": sent}
    return {"outcome": "sent", "wa_message_ids": sent}
