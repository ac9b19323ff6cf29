"""Admin API, the timeline: every recorded webhook of a tenant (or one chat),
with the decision taken and why, the message it carried, and who acted
(`actor`: a user, a token's name, the owner's phone, the schedule)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..common import db
from ..common.auth import protect
from ..common.errors import bad_request
from ..common.logs import log_context
from ..common.openapi import Operation, documented
from ..common.params import iso, shaped
from ..common.validation import parse_query
from ..core.api_auth import principal, require, require_api_access, tenant_filter
from ..core.api_models_chats import EventList, EventsQuery
from ..core.events import actor_of, timeline
from ..core.reply_sources import for_tokens

bp = Blueprint("events", __name__)
protect(bp, require_api_access)

SHOWN = ("id", "received_at", "event_type", "chat_id", "wa_message_id", "from_me", "author", "decision", "reason",
         "reply_token_id", "duration_ms")


def shape(row: dict, sources: dict | None = None) -> dict:
    out = shaped(row, SHOWN)
    # the knowledge entries its reply was written from
    out["sources"] = [{"id": str(s["id"]) if s["id"] else None, "title": s["title"]}
                      for s in (sources or {}).get(row["reply_token_id"], [])]
    out["actor"] = actor_of(row)
    out["message"] = None if row["message_type"] is None else {
        "type": row["message_type"], "text": row["text"],
        "edited_at": iso(row["edited_at"]), "deleted_at": iso(row["deleted_at"]),
    }
    return out


@bp.get("/api/events")
@documented(Operation("The timeline of a tenant or one chat", ("chats",),
                      access="viewer, agent, owner (their tenant's); the platform admin (tenant_id required)",
                      query=EventsQuery, answer=EventList, errors=(400, 401, 404),
                      description="Oldest first: the newest `limit` events, each with its decision and why."))
def list_events():
    query = parse_query(EventsQuery)
    require("read")
    if query.tenant_id is None and principal().platform:
        raise bad_request("tenant_id is required", "tenant_id")
    tenant_id = tenant_filter(query.tenant_id)
    log_context(tenant=str(tenant_id), chat=query.chat_id)
    with db.transaction() as cur:
        rows = timeline(cur, tenant_id, query.chat_id, query.limit)
        sources = for_tokens(cur, sorted({r["reply_token_id"] for r in rows if r["reply_token_id"]}, key=str))
    return jsonify({"events": [shape(r, sources) for r in rows]})
