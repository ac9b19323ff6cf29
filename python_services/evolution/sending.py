"""Sending a reply: split it into messages, claim the send guard, type, send
each part, confirm each WhatsApp id at once. Every database step is its own
short transaction; no transaction is open while Evolution is being called.

Each part reaches the customer at most once. A send that surely never
reached Evolution is tried again (the client does it); one whose fate is
unknown (a read timeout, a connection broken mid-call, a 5xx) is never sent
again blindly: the part is `unknown` in the ledger (its echo is the bot's,
never a person) while the truth is learnt from its echo or from Evolution's
message list. Found: the part is sent. Evolution, having answered the error
itself, has no such message: it is sent again (EVO_SEND_ATTEMPTS in all).
Still unknown after EVO_FATE_WAIT_SECONDS (Evolution never answered): the
reply fails, not sent again, and a late echo still turns it into `sent`.

Every gateway problem ends as a value: {"outcome": "failed", "error", "status"}
recorded on the reply token; the guard refusing ends as "cancelled"."""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from flask import current_app, g, has_request_context

from ..common import db
from ..common.logs import log_context, log_event
from ..core import ledger, send_fate, tenants
from ..core.evolution_client import EvolutionClient, EvolutionError
from ..core.jids import chat_jid, phone_number
from ..core.settings import effective_settings

log = logging.getLogger("hybridflow.evolution.send")

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# a send of unknown fate: how often its echo / Evolution's list is looked at;
# after a 5xx Evolution answered itself (its work on the call is over), how
# long they get to show the message before it counts as not sent
FATE_POLL_SECONDS = 1.0
FATE_GRACE_SECONDS = 1.0
# Evolution's clock against the database's, when reading its message timestamps
CLOCK_SLACK_SECONDS = 30.0


def split_reply(text: str) -> list[str]:
    """The reply's paragraphs (split at blank lines), each one WhatsApp message."""
    normalised = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return [part.strip() for part in _BLANK_LINE.split(normalised) if part.strip()]


def typing_delay_ms(text: str, settings: dict) -> int:
    """How long 'typing…' shows before a message: its length x time_per_char,
    clamped to typing_min_ms..typing_max_ms."""
    low, high = settings["typing_min_ms"], settings["typing_max_ms"]
    return int(round(min(max(len(text) * settings["time_per_char"], low), high)))


def client_for(tenant: dict, cfg) -> EvolutionClient:
    return EvolutionClient(tenant["evo_server_url"], tenant["evo_api_key"], timeout=cfg.evo_timeout,
                           attempts=cfg.evo_send_attempts, backoff=cfg.evo_retry_backoff, sleep=retry_wait)


def retry_wait(seconds: float) -> None:
    """The pause before a message goes to Evolution again (the client's own
    retry, or _send_part's once Evolution has no such message): counted per
    request for hybridflow_send_retries_total (routes.py, docs/metrics.md)."""
    if has_request_context():
        g.send_retries = g.get("send_retries", 0) + 1
    time.sleep(seconds)


@dataclass(frozen=True)
class Target:
    """Where a reply goes: the instance, the number to send to, the chat's JID."""
    tenant_id: object
    instance: str
    number: str
    jid: str


@dataclass(frozen=True)
class Fate:
    """What was learnt about a send of unknown fate."""
    wa_message_id: str | None = None
    # "echo" (its send.message / fromMe upsert arrived) or "evolution" (its message list)
    by: str | None = None
    # Evolution's message list was read and has no such message
    absent: bool = False


def _fail(token_id, error: str, status=None, sent_ids=()) -> dict:
    with db.transaction() as cur:
        ledger.fail_token(cur, token_id, error)
    log_event(log, "send failed", logging.WARNING, reply_token=str(token_id), error=error, status=status)
    return {"outcome": "failed", "error": error, "status": status, "wa_message_ids": list(sent_ids)}


def _confirm(token_id, part_no: int, wa_id: str, confirmed_by: str = "answer") -> dict:
    with db.transaction() as cur:
        return ledger.confirm_send(cur, token_id, part_no, wa_id, confirmed_by)


def _still_claimed(token_id) -> dict | None:
    """After typing or waiting (seconds may have passed): None while the token
    is still ours, else the token's check (the owner typed, the chat was paused...)."""
    with db.transaction() as cur:
        check = ledger.check_token(cur, token_id)
    return None if check.get("state") == "claimed" else check


def _ended(check: dict, sent_ids) -> dict:
    """The outcome of a reply that ended while it was being sent."""
    if check.get("state") == "failed":
        return {"outcome": "failed", "error": "the reply was ended as failed while it was being sent "
                                              "(e.g. by the recovery flow)", "status": None,
                "wa_message_ids": list(sent_ids)}
    return {"outcome": "cancelled", "reason": check.get("reason") or check.get("state"),
            "state": check.get("state"), "wa_message_ids": list(sent_ids)}


def send_reply(token_id, text: str, handoff: bool = False) -> dict:
    parts = split_reply(text)
    with db.transaction() as cur:
        claim = ledger.claim_send(cur, token_id, parts, handoff)
        tenant = tenants.by_instance(cur, claim["instance"]) if claim.get("claimed") else None
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
    client = client_for(tenant, cfg)
    settings = effective_settings(tenant["settings"])
    to = Target(tenant["id"], claim["instance"], number, chat_jid(number))
    sent: list[str] = []
    for part_no, part in enumerate(parts):
        if settings["typing"]:
            try:
                client.send_presence(to.instance, number, typing_delay_ms(part, settings))
            except EvolutionError as err:
                # typing is a courtesy: the send below meets (and reports) any real problem
                log_event(log, "typing presence failed", logging.WARNING, kind=err.kind, error=err.message)
            refused = _still_claimed(token_id)
            if refused is not None:
                return _ended(refused, sent)
        result = _send_part(client, cfg, settings, to, token_id, part_no, part, sent)
        if "outcome" in result:
            return result
        sent.append(result["wa_message_id"])
        if result["state"] not in ("claimed", "sent"):
            # a person took over while this part was on its way: no further parts
            return _ended(result, sent)
    outcome = {"outcome": "sent", "wa_message_ids": sent}
    if result.get("reason"):
        # how a part whose fate was unknown turned out sent: confirmed_by_echo / confirmed_by_evolution
        outcome["reason"] = result["reason"]
    return outcome


def _send_part(client, cfg, settings, to: Target, token_id, part_no: int, text: str, sent: list) -> dict:
    """One WhatsApp message, at most once: {"wa_message_id", "state", "reason"}
    once it is known to be sent (state: the token's), else the reply's outcome."""
    attempts = cfg.evo_send_attempts
    for attempt in range(1, attempts + 1):
        with db.transaction() as cur:
            tried = send_fate.send_tried(cur, token_id, part_no)
        if tried is None:
            refused = _still_claimed(token_id)
            if refused is not None:
                return _ended(refused, sent)
            return _fail(token_id, f"part {part_no} is not waiting to be sent", None, sent)
        try:
            answer = client.send_text(to.instance, to.number, text)
        except EvolutionError as err:
            if not err.maybe_sent:
                return _fail(token_id, err.message, err.status, sent)
            fate = _learn_fate(client, cfg, settings, to, token_id, part_no, text, err, tried["tried_at"])
            if fate.wa_message_id:
                log_event(log, f"send confirmed by {fate.by}", reply_token=str(token_id), part=part_no,
                          after=err.kind, wa_message_id=fate.wa_message_id)
                return _confirmed(token_id, part_no, fate.wa_message_id, fate.by)
            if not fate.absent:
                return _fail(token_id, f"fate unknown: {err.message}, and Evolution could not be asked whether it "
                                       "sent it; not sent again, so the customer cannot get it twice",
                             err.status, sent)
            if err.answered and attempt < attempts:
                # Evolution answered the error itself and has no such message: safe to send again
                wait = cfg.evo_retry_backoff * (2 ** (attempt - 1))
                log_event(log, "send not found on Evolution, sending again", logging.WARNING,
                          reply_token=str(token_id), part=part_no, kind=err.kind, status=err.status,
                          attempt=attempt, retry_in_s=wait)
                retry_wait(wait)
                refused = _still_claimed(token_id)
                if refused is not None:
                    _not_found(token_id, part_no, err.message)
                    return _ended(refused, sent)
                continue
            error = f"not sent: Evolution has no such message ({err.message})"
            if err.answered:
                error += f" (after {attempt} attempts)" if attempt > 1 else ""
            else:
                error += (f"; it did not show up within {_fate_wait(cfg, settings):g} s, and it is not sent "
                          "again so the customer cannot get it twice")
            late = _not_found(token_id, part_no, error)
            if late is not None:
                return _confirmed(token_id, part_no, late, "echo")
            return _fail(token_id, error, err.status, sent)
        else:
            return _confirmed(token_id, part_no, answer["key"]["id"], "answer")
    raise AssertionError("unreachable: every attempt returns")  # pragma: no cover


def _confirmed(token_id, part_no: int, wa_id: str, by: str) -> dict:
    # the message is out: its id must reach the ledger (or its echo would pass
    # for a person typing), also across a database restart
    confirmed = db.retry_on_disconnect(lambda: _confirm(token_id, part_no, wa_id, by))
    return {"wa_message_id": wa_id, "state": confirmed.get("state"), "reason": confirmed.get("reason")}


def _not_found(token_id, part_no: int, error: str) -> str | None:
    """Records that Evolution has no such message; the id an echo bound
    meanwhile instead (then it was sent), else None."""
    with db.transaction() as cur:
        if send_fate.send_not_found(cur, token_id, part_no, error):
            return None
        row = send_fate.send_part(cur, token_id, part_no)
    return row["wa_message_id"] if row else None


def _fate_wait(cfg, settings) -> float:
    """How long a send Evolution never answered waits for the truth: at most
    the echo window (past it, its echo would no longer be matched)."""
    return min(cfg.evo_fate_wait, float(settings["echo_window_seconds"]))


def _learn_fate(client, cfg, settings, to: Target, token_id, part_no: int, text: str, err: EvolutionError,
                tried_at) -> Fate:
    """Watches the part's echo (the collision service binds its id) and
    Evolution's message list until one shows the message, or the wait ends:
    a short grace when Evolution answered the error itself, else the fate wait."""
    with db.transaction() as cur:
        send_fate.send_fate_unknown(cur, token_id, part_no, err.message)
    wait = FATE_GRACE_SECONDS if err.answered else _fate_wait(cfg, settings)
    log_event(log, "send fate unknown", logging.WARNING, reply_token=str(token_id), part=part_no, kind=err.kind,
              status=err.status, error=err.message, wait_s=wait)
    deadline = time.monotonic() + wait
    since = tried_at.timestamp() - CLOCK_SLACK_SECONDS
    while True:
        with db.transaction() as cur:
            row = send_fate.send_part(cur, token_id, part_no)
        if row is not None and row["wa_message_id"]:
            return Fate(row["wa_message_id"], "echo")
        absent = False
        try:
            ids = client.find_sent(to.instance, to.jid, text, since)
        except EvolutionError as lookup:
            log_event(log, "cannot read Evolution's messages", logging.WARNING, kind=lookup.kind,
                      error=lookup.message)
        else:
            with db.transaction() as cur:
                known = send_fate.sends_known(cur, to.tenant_id, ids)
            fresh = [msg_id for msg_id in ids if msg_id not in known]
            if fresh:
                return Fate(fresh[0], "evolution")
            absent = True
        left = deadline - time.monotonic()
        if left <= 0:
            return Fate(absent=absent)
        time.sleep(min(FATE_POLL_SECONDS, left))
