"""Admin API, the timeline: every recorded webhook of a tenant (or one chat),
with the decision taken and why, and the message it carried."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..common import db
from ..common.auth import protect, require_admin_token
from ..common.logs import log_context
from .params import iso, query_limit, query_uuid, shaped

bp = Blueprint("events", __name__)
protect(bp, require_admin_token)

SHOWN = ("id", "received_at", "event_type", "chat_id", "wa_message_id", "from_me", "author", "decision", "reason",
         "reply_token_id", "duration_ms")


def chat_jid(value: str | None) -> str | None:
    """A chat as the admin types it: the JID, or just the phone number."""
    if not value:
        return None
    value = value.strip()
    return value if "@" in value else value.lstrip("+") + "@s.whatsapp.net"


def timeline(cur, tenant_id, chat_id, limit) -> list[dict]:
    # the newest `limit` events, shown oldest first
    cur.execute(
        "SELECT * FROM (SELECT e.*, m.message_type, m.text, m.edited_at, m.deleted_at FROM events e"
        " LEFT JOIN messages m ON m.id = e.message_id"
        " WHERE e.tenant_id = %(tenant)s AND (%(chat)s::text IS NULL OR e.chat_id = %(chat)s)"
        " ORDER BY e.received_at DESC, e.id DESC LIMIT %(limit)s) t ORDER BY received_at, id",
        {"tenant": tenant_id, "chat": chat_id, "limit": limit},
    )
    return cur.fetchall()


def shape(row: dict) -> dict:
    out = shaped(row, SHOWN)
    out["message"] = None if row["message_type"] is None else {
        "type": row["message_type"], "text": row["text"],
        "edited_at": iso(row["edited_at"]), "deleted_at": iso(row["deleted_at"]),
    }
    return out


@bp.get("/api/events")
def list_events():
    tenant_id = query_uuid("tenant_id", required=True)
    chat_id, limit = chat_jid(request.args.get("chat_id")), query_limit(default=200)
    log_context(tenant=str(tenant_id), chat=chat_id)
    with db.transaction() as cur:
        rows = timeline(cur, tenant_id, chat_id, limit)
    return jsonify({"events": [shape(r) for r in rows]})
