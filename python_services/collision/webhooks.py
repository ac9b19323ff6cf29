"""POST /webhooks/evolution: n8n forwards every Evolution webhook here, and
gets back the decision to route on.

One transaction per webhook: the first delivery of a message claims the
partial unique index `events_first_delivery`, so a concurrent identical
delivery waits for it and then records `duplicate`; the chat's session row is
locked before deciding, so a person's message and the send guard never both
win. A refusal (400/401/404) stores nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from flask import current_app, Blueprint, jsonify, request

from ..common import db
from ..common.auth import protect
from ..common.errors import ApiError, bad_request
from ..common.logs import log_context
from ..common.settings import effective_settings
from ..common.web import json_body
from . import tokens
from .decide import Facts, Verdict, decide
from .normalize import Event, clean_body, normalize

bp = Blueprint("webhooks", __name__)
protect(bp)
log = logging.getLogger("hybridflow.collision.webhooks")

SECRET_HEADER = "X-Webhook-Secret"


@bp.post("/webhooks/evolution")
def evolution_webhook():
    started = time.perf_counter()
    try:
        # what Postgres cannot store (NUL, lone surrogates, NaN) is cleaned out
        # first, and a body nested absurdly deep refused, before any query
        body = clean_body(json_body())
        instance = body.get("instance")
        if not isinstance(instance, str) or not instance.strip():
            raise bad_request("instance must be a non-empty string", "instance", "malformed")
        with db.transaction() as cur:
            tenant = tenant_by_instance(cur, instance.strip())
            if tenant is None:
                raise ApiError(404, "unknown_instance", f"no tenant for instance {instance!r}", "instance")
            log_context(tenant=str(tenant["id"]))
            if not secret_matches(request.headers.get(SECRET_HEADER), tenant["webhook_secret_hash"]):
                raise ApiError(401, "unauthorized", f"missing or wrong {SECRET_HEADER} header", SECRET_HEADER)
            now = db_now(cur)
            event = normalize(body, now)
            answer = record_webhook(cur, tenant, event, now, started,
                                    reply_margin=current_app.config["HF"].reply_deadline_margin)
    except ApiError as err:
        # nothing was stored; the log line says why (never the secret itself)
        log_context(decision="refused", reason=err.code, status=err.status)
        raise
    log_context(chat=answer["chat_id"], message_id=answer["wa_message_id"], decision=answer["decision"],
                reply_token=answer["reply_token"], reason=answer["reason"])
    return jsonify(answer)


def secret_matches(given: str | None, stored_hash: str) -> bool:
    if not given:
        return False
    digest = hashlib.sha256(given.encode()).hexdigest()
    return hmac.compare_digest(digest, stored_hash)


# ---------------------------------------------------------------- SQL


def tenant_by_instance(cur, instance: str) -> dict | None:
    cur.execute("SELECT id, instance_name, webhook_secret_hash, settings FROM tenants WHERE instance_name = %s",
                (instance,))
    return cur.fetchone()


def db_now(cur):
    # the database's clock: tokens and claims are stamped with it too
    cur.execute("SELECT clock_timestamp() AS now")
    return cur.fetchone()["now"]


def insert_first_delivery(cur, tenant_id, event: Event) -> int | None:
    """The event row, if this is the first delivery; None when another delivery
    of the same message holds the index (we waited for it to commit)."""
    cur.execute(
        "INSERT INTO events (tenant_id, event_type, chat_id, wa_message_id, from_me, author, decision, reason,"
        " dedupe_key) VALUES (%s, %s, %s, %s, %s, %s, 'ignore', 'deciding', %s)"
        " ON CONFLICT (tenant_id, dedupe_key) WHERE decision <> 'duplicate' AND dedupe_key IS NOT NULL"
        " DO NOTHING RETURNING id",
        (tenant_id, event.event_type, event.chat_id, event.wa_message_id, event.from_me, event.author,
         event.dedupe_key),
    )
    row = cur.fetchone()
    return row["id"] if row else None


def first_delivery(cur, tenant_id, dedupe_key: str) -> dict:
    cur.execute(
        "SELECT id, chat_id FROM events WHERE tenant_id = %s AND dedupe_key = %s AND decision <> 'duplicate'",
        (tenant_id, dedupe_key),
    )
    return cur.fetchone()


def insert_duplicate(cur, tenant_id, event: Event, chat_id, verdict: Verdict) -> int:
    cur.execute(
        "INSERT INTO events (tenant_id, event_type, chat_id, wa_message_id, from_me, author, decision, reason,"
        " dedupe_key) VALUES (%s, %s, %s, %s, %s, %s, 'duplicate', %s, %s) RETURNING id",
        (tenant_id, event.event_type, chat_id, event.wa_message_id, event.from_me, event.author, verdict.reason,
         event.dedupe_key),
    )
    return cur.fetchone()["id"]


def finish_event(cur, event_id, chat_id, author, verdict: Verdict, message_id, token_id, duration_ms) -> None:
    cur.execute(
        "UPDATE events SET decision = %s, reason = %s, chat_id = %s, author = %s, message_id = %s,"
        " reply_token_id = %s, duration_ms = %s WHERE id = %s",
        (verdict.decision, verdict.reason, chat_id, author, message_id, token_id, duration_ms, event_id),
    )


def phone_of_alias(cur, tenant_id, alias_jid: str) -> str | None:
    cur.execute("SELECT chat_id FROM chat_aliases WHERE tenant_id = %s AND alias_jid = %s", (tenant_id, alias_jid))
    row = cur.fetchone()
    return row["chat_id"] if row else None


def remember_alias(cur, tenant_id, alias_jid: str, chat_id: str) -> None:
    cur.execute(
        "INSERT INTO chat_aliases (tenant_id, alias_jid, chat_id) VALUES (%s, %s, %s)"
        " ON CONFLICT (tenant_id, alias_jid) DO UPDATE SET chat_id = EXCLUDED.chat_id"
        " WHERE chat_aliases.chat_id <> EXCLUDED.chat_id",
        (tenant_id, alias_jid, chat_id),
    )


def message_by_wa_id(cur, tenant_id, wa_message_id: str) -> dict | None:
    cur.execute("SELECT id, chat_id, session_id FROM messages WHERE tenant_id = %s AND wa_message_id = %s",
                (tenant_id, wa_message_id))
    return cur.fetchone()


def session_for_update(cur, tenant_id, chat_id: str) -> dict | None:
    cur.execute("SELECT * FROM sessions WHERE tenant_id = %s AND chat_id = %s FOR UPDATE", (tenant_id, chat_id))
    return cur.fetchone()


def in_ledger(cur, tenant_id, wa_message_id: str) -> bool:
    cur.execute("SELECT 1 FROM outbound WHERE tenant_id = %s AND wa_message_id = %s", (tenant_id, wa_message_id))
    return cur.fetchone() is not None


def unconfirmed_sends(cur, tenant_id, chat_id: str) -> list[dict]:
    cur.execute(
        "SELECT id, text, claimed_at FROM outbound WHERE tenant_id = %s AND chat_id = %s AND state = 'claimed'"
        " AND wa_message_id IS NULL ORDER BY claimed_at, id",
        (tenant_id, chat_id),
    )
    return cur.fetchall()


def bind_echo(cur, outbound_id: int, wa_message_id: str) -> None:
    # the send's own answer will confirm the same id; binding it now keeps a
    # second message with the same text from matching this send again
    cur.execute("UPDATE outbound SET wa_message_id = %s WHERE id = %s AND wa_message_id IS NULL",
                (wa_message_id, outbound_id))


def store_message(cur, tenant_id, session_id, chat_id, event: Event, author: str, token_id) -> int:
    cur.execute(
        "INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at,"
        " raw, reply_token_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tenant_id, wa_message_id) DO NOTHING RETURNING id",
        (tenant_id, session_id, chat_id, event.wa_message_id, author, event.message_type or "unknown", event.text,
         event.sent_at, json.dumps(event.raw), token_id),
    )
    row = cur.fetchone()
    # already in history (the bot's confirm wrote it first, or another event type)
    return row["id"] if row else message_by_wa_id(cur, tenant_id, event.wa_message_id)["id"]


def apply_edit(cur, tenant_id, event: Event) -> int | None:
    if event.kind == "edit":
        cur.execute(
            "UPDATE messages SET text = COALESCE(%s, text), edited_at = %s WHERE tenant_id = %s"
            " AND wa_message_id = %s RETURNING id",
            (event.text, event.sent_at, tenant_id, event.target_id),
        )
    else:
        cur.execute(
            "UPDATE messages SET deleted_at = %s WHERE tenant_id = %s AND wa_message_id = %s RETURNING id",
            (event.sent_at, tenant_id, event.target_id),
        )
    row = cur.fetchone()
    return row["id"] if row else None


def touch_session(cur, session_id, event: Event, verdict: Verdict) -> None:
    cur.execute(
        "UPDATE sessions SET updated_at = now(),"
        " last_customer_at = GREATEST(last_customer_at, %(customer_at)s),"
        " customer_name = COALESCE(%(name)s, customer_name),"
        " last_human_at = GREATEST(last_human_at, %(human_at)s),"
        " last_bot_at = CASE WHEN %(bot)s THEN now() ELSE last_bot_at END"
        " WHERE id = %(id)s",
        {"customer_at": event.sent_at if verdict.author == "customer" else None,
         "name": (event.push_name or None) if verdict.author == "customer" else None,
         "human_at": verdict.human_at, "bot": verdict.author == "bot", "id": session_id},
    )


# ---------------------------------------------------------------- the transaction


def record_webhook(cur, tenant: dict, event: Event, now, started: float,
                   reply_margin: float = tokens.RECOVERY_MARGIN_SECONDS) -> dict:
    settings = effective_settings(tenant["settings"])
    tenant_id = tenant["id"]
    chat_id = resolve_chat(cur, tenant_id, event)

    event_id = insert_first_delivery(cur, tenant_id, event)
    if event_id is None:
        first = first_delivery(cur, tenant_id, event.dedupe_key)
        verdict = decide(event, None, settings, Facts(now=now, duplicate_of=first["id"]))
        event_id = insert_duplicate(cur, tenant_id, event, first["chat_id"], verdict)
        return answer(tenant_id, event_id, first["chat_id"], event, verdict, None, settings)

    if chat_id and event.alias_jid:
        remember_alias(cur, tenant_id, event.alias_jid, chat_id)
    target = None
    if event.kind in ("edit", "revoke") and event.target_id:
        target = message_by_wa_id(cur, tenant_id, event.target_id)
        if target:
            chat_id = target["chat_id"]
    facts = gather_facts(cur, tenant_id, chat_id, event, now, target)

    chat = session_for_update(cur, tenant_id, chat_id) if chat_id and event.kind in ("message", "reaction") else None
    verdict = decide(event, chat, settings, facts)
    if chat is None and needs_session(verdict):
        # a new chat (one the owner started included): create it, then decide
        # again on the locked row, in case a concurrent webhook just made it
        chat = tokens.lock_session(cur, tenant_id, chat_id)
        verdict = decide(event, chat, settings, facts)

    message_id, token = apply(cur, tenant_id, chat, chat_id, event, verdict, settings, reply_margin)
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    finish_event(cur, event_id, chat_id, verdict.author or event.author, verdict, message_id,
                 token["id"] if token else None, duration_ms)
    return answer(tenant_id, event_id, chat_id, event, verdict, token, settings)


def resolve_chat(cur, tenant_id, event: Event) -> str | None:
    """The phone JID of the chat, also for a LID-only message of a chat whose
    LID was seen next to its phone before."""
    chat_id = event.chat_id
    if chat_id and chat_id.endswith("@lid"):
        chat_id = phone_of_alias(cur, tenant_id, chat_id) or chat_id
    return chat_id


def gather_facts(cur, tenant_id, chat_id, event: Event, now, target) -> Facts:
    facts = {"now": now, "target_known": target is not None}
    if event.kind == "message" and event.from_me:
        facts["in_ledger"] = in_ledger(cur, tenant_id, event.wa_message_id)
        facts["claimed_sends"] = unconfirmed_sends(cur, tenant_id, chat_id) if not facts["in_ledger"] else []
    return Facts(**facts)


def needs_session(verdict: Verdict) -> bool:
    return bool(verdict.store_message or verdict.pause or verdict.reply or verdict.human_at
                or verdict.decision == "command")


def apply(cur, tenant_id, chat, chat_id, event: Event, verdict: Verdict, settings,
          reply_margin: float = tokens.RECOVERY_MARGIN_SECONDS) -> tuple[int | None, dict | None]:
    """The verdict's effects, on the locked session."""
    if event.kind in ("edit", "revoke"):
        return (apply_edit(cur, tenant_id, event) if verdict.decision == "ignore" and event.target_id else None), None
    if chat is None:
        return None, None
    if verdict.resume and chat["paused"]:
        tokens.resume_session(cur, chat["id"])
    if verdict.pause:
        reason, until = verdict.pause
        tokens.pause_session(cur, tenant_id, chat_id, reason, until)
    elif verdict.cancel_replies:
        tokens.cancel_open_tokens(cur, chat["id"], verdict.cancel_replies)
    if verdict.echo_outbound_id:
        bind_echo(cur, verdict.echo_outbound_id, event.wa_message_id)

    token = None
    if verdict.reply:
        # past this the recovery flow takes the reply up again
        deadline = settings["debounce_seconds"] + reply_margin
        token = tokens.create_token(cur, chat, deadline)
    message_id = None
    if verdict.store_message:
        message_id = store_message(cur, tenant_id, chat["id"], chat_id, event, verdict.author,
                                   token["id"] if token else None)
    touch_session(cur, chat["id"], event, verdict)
    return message_id, token


def answer(tenant_id, event_id, chat_id, event: Event, verdict: Verdict, token, settings) -> dict:
    return {
        "decision": verdict.decision,
        "reason": verdict.reason,
        "event_id": event_id,
        "tenant_id": str(tenant_id),
        "chat_id": chat_id,
        "wa_message_id": event.wa_message_id,
        "reply_token": str(token["id"]) if token else None,
        "debounce_seconds": settings["debounce_seconds"] if token else 0,
        "notify": verdict.notify,
    }
