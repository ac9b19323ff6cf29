"""Admin API, sessions (one per chat): list with filters, get, pause by hand
(no end), resume; and /cron/auto-resume for the schedule flow. A pause or a
resume through the API is a row in the chat's timeline naming who did it."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..common import db
from ..common.auth import protect, require_service_or_admin_token
from ..common.logs import log_context
from ..common.openapi import Operation, documented
from ..common.params import found, path_uuid, shaped
from ..common.validation import parse_query
from ..core import chat_pauses, sessions
from ..core.api_auth import require, require_api_access, tenant_filter
from ..core.api_models_chats import Resumed, Session, SessionList, SessionsQuery
from ..core.jids import number_for

bp = Blueprint("sessions", __name__)
protect(bp, require_api_access)
cron_bp = Blueprint("cron", __name__)
protect(cron_bp, require_service_or_admin_token)

SHOWN = ("id", "tenant_id", "chat_id", "customer_name", "paused", "pause_reason", "paused_by", "paused_at",
         "paused_until", "last_customer_at", "last_human_at", "last_bot_at", "created_at", "updated_at")
TAGS = ("chats",)


def shape(row: dict) -> dict:
    return {**shaped(row, SHOWN), "number": number_for(row["chat_id"])}


def session_row(cur, session_id, lock=False) -> dict:
    return found(sessions.by_id(cur, session_id, lock=lock), "session", session_id)


def reachable_session(cur, session_id, action: str, lock=False):
    """The session, when the caller may do `action` on it; another tenant's answers 404 like an unknown id."""
    row = session_row(cur, session_id, lock=lock)
    who = require(action, row["tenant_id"], "session", session_id)
    return row, who


def by_hand(session_id, change, decision: str):
    """Pause or resume (`change`: chat_pauses.pause_by_hand or resume_by_hand)
    a chat the caller may pause, its session locked, naming the caller."""
    session_id = path_uuid(session_id, "session")
    with db.transaction() as cur:
        row, who = reachable_session(cur, session_id, "chats.pause", lock=True)
        row = change(cur, row, who.label)
    log_context(tenant=str(row["tenant_id"]), chat=row["chat_id"], decision=decision)
    return jsonify(shape(row))


# ---------------------------------------------------------------- routes


@bp.get("/api/sessions")
@documented(Operation("List chats", TAGS, access="viewer, agent, owner (their tenant's only); the platform admin",
                      query=SessionsQuery, answer=SessionList, errors=(400, 401, 404)))
def list_sessions():
    query = parse_query(SessionsQuery)
    require("read")
    tenant_id = tenant_filter(query.tenant_id)
    with db.transaction() as cur:
        rows = sessions.find(cur, tenant_id, query.paused, query.limit)
    return jsonify({"sessions": [shape(r) for r in rows]})


@bp.get("/api/sessions/<session_id>")
@documented(Operation("Get a chat", TAGS, access="viewer, agent, owner; the platform admin", answer=Session,
                      errors=(401, 404)))
def get_session(session_id):
    session_id = path_uuid(session_id, "session")
    with db.transaction() as cur:
        row, _ = reachable_session(cur, session_id, "read")
    return jsonify(shape(row))


@bp.post("/api/sessions/<session_id>/pause")
@documented(Operation("Pause a chat by hand", TAGS, access="agent, owner; the platform admin", answer=Session,
                      errors=(401, 403, 404),
                      description="No end: it stays paused until resumed by hand. Replies in flight are "
                                  "cancelled. The timeline gets a hybridflow.chat_paused row naming who."))
def pause(session_id):
    return by_hand(session_id, chat_pauses.pause_by_hand, "pause")


@bp.post("/api/sessions/<session_id>/resume")
@documented(Operation("Resume a chat", TAGS, access="agent, owner; the platform admin", answer=Session,
                      errors=(401, 403, 404),
                      description="Lifts any pause. The timeline gets a hybridflow.chat_resumed row naming who."))
def resume(session_id):
    return by_hand(session_id, chat_pauses.resume_by_hand, "resume")


@cron_bp.post("/cron/auto-resume")
@documented(Operation("Resume every chat whose pause ran out", ("schedules",), answer=Resumed, errors=(401,),
                      access="the service token (the schedule flow) or ADMIN_TOKEN", service_token=True))
def auto_resume():
    with db.transaction() as cur:
        resumed = chat_pauses.resume_due_sessions(cur)
    log_context(outcome=f"resumed={resumed}")
    return jsonify({"resumed": resumed})
