"""Admin API, sessions (one per chat): list with filters, get, pause by hand
(no end), resume; and /cron/auto-resume for the schedule flow."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..common import db
from ..common.auth import protect, require_admin_token, require_service_or_admin_token
from ..common.errors import not_found
from ..common.logs import log_context
from .params import path_uuid, query_bool, query_limit, query_uuid, shaped
from . import tokens

bp = Blueprint("sessions", __name__)
protect(bp, require_admin_token)
cron_bp = Blueprint("cron", __name__)
protect(cron_bp, require_service_or_admin_token)

SHOWN = ("id", "tenant_id", "chat_id", "customer_name", "paused", "pause_reason", "paused_at", "paused_until",
         "last_customer_at", "last_human_at", "last_bot_at", "created_at", "updated_at")


def shape(row: dict) -> dict:
    return {**shaped(row, SHOWN), "number": tokens.number_for(row["chat_id"])}


# ---------------------------------------------------------------- SQL


def find_sessions(cur, tenant_id, paused, limit) -> list[dict]:
    cur.execute(
        "SELECT * FROM sessions WHERE (%(tenant)s::uuid IS NULL OR tenant_id = %(tenant)s)"
        " AND (%(paused)s::boolean IS NULL OR paused = %(paused)s)"
        " ORDER BY updated_at DESC, id LIMIT %(limit)s",
        {"tenant": tenant_id, "paused": paused, "limit": limit},
    )
    return cur.fetchall()


def session_row(cur, session_id, lock=False) -> dict:
    cur.execute("SELECT * FROM sessions WHERE id = %s" + (" FOR UPDATE" if lock else ""), (session_id,))
    row = cur.fetchone()
    if row is None:
        raise not_found(f"no session {session_id}")
    return row


# ---------------------------------------------------------------- routes


@bp.get("/api/sessions")
def list_sessions():
    tenant_id, paused, limit = query_uuid("tenant_id"), query_bool("paused"), query_limit()
    with db.transaction() as cur:
        rows = find_sessions(cur, tenant_id, paused, limit)
    return jsonify({"sessions": [shape(r) for r in rows]})


@bp.get("/api/sessions/<session_id>")
def get_session(session_id):
    with db.transaction() as cur:
        row = session_row(cur, path_uuid(session_id, "session"))
    return jsonify(shape(row))


@bp.post("/api/sessions/<session_id>/pause")
def pause(session_id):
    session_id = path_uuid(session_id, "session")
    with db.transaction() as cur:
        row = session_row(cur, session_id, lock=True)
        # by hand: no paused_until, only a person resumes it; replies in flight are cancelled
        row = tokens.pause_session(cur, row["tenant_id"], row["chat_id"], "manual")
    log_context(tenant=str(row["tenant_id"]), chat=row["chat_id"], decision="pause")
    return jsonify(shape(row))


@bp.post("/api/sessions/<session_id>/resume")
def resume(session_id):
    session_id = path_uuid(session_id, "session")
    with db.transaction() as cur:
        session_row(cur, session_id, lock=True)
        row = tokens.resume_session(cur, session_id)
    log_context(tenant=str(row["tenant_id"]), chat=row["chat_id"], decision="resume")
    return jsonify(shape(row))


@cron_bp.post("/cron/auto-resume")
def auto_resume():
    with db.transaction() as cur:
        resumed = tokens.resume_due_sessions(cur)
    log_context(outcome=f"resumed={resumed}")
    return jsonify({"resumed": resumed})
