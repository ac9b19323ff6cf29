"""The llm service's routes: POST /reply for the flow (service token) and
GET /api/usage for the admin API (ADMIN_TOKEN, or a tenant's token for its own usage). Each parses, calls a plain
function and shapes the answer."""
from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify

from ..common import db, metrics
from ..common.auth import protect
from ..common.errors import bad_request
from ..common.logs import log_context
from ..common.openapi import documented
from ..common.validation import parse_query
from ..common.web import json_body
from ..core import media_fetch, messages, reply_tokens
from ..core.api_auth import require, require_api_access, tenant_filter
from ..core.api_models import USAGE, UsageQuery
from . import reply, transcribe, usage

reply_bp = Blueprint("reply", __name__)
protect(reply_bp)

usage_bp = Blueprint("usage", __name__)
protect(usage_bp, require_api_access)


def _uuid(value, field: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise bad_request(f"{field} must be a UUID", field) from None


@reply_bp.post("/reply")
def post_reply():
    body = json_body()
    if "reply_token" not in body or not isinstance(body["reply_token"], str):
        raise bad_request("reply_token must be the token's UUID as a string", "reply_token")
    token_id = _uuid(body["reply_token"], "reply_token")
    log_context(reply_token=token_id)
    answer = reply.reply_to_token(token_id, current_app.extensions["llm_options"])
    metrics.REPLIES.labels(answer["outcome"]).inc()
    log_context(outcome=answer["outcome"])
    # handed on: the flow's send node reads the token from this answer, not
    # from a node further back
    return jsonify({**answer, "reply_token": token_id})


@reply_bp.post("/transcribe")
def post_transcribe():
    """The flow's "Transcribe the voice note" (route voice_note, before the debounce wait), or
    the owner's voice note: {"tenant_id", "wa_message_id", "base64"?} ->
    {"outcome": "transcribed" | "already" | "fallback" | "not_voice_note" |
    "skipped" | "working", ...}. Never a reason for the flow to stop: every
    outcome is recorded, and the reply answers whatever it became."""
    request = media_fetch.parse_request(json_body())
    log_context(tenant_id=request.tenant_id, wa_message_id=request.wa_message_id)
    answer = transcribe.transcribe_message(request, current_app.extensions["llm_options"])
    log_context(outcome=answer["outcome"])
    return jsonify(answer)


@usage_bp.get("/api/usage")
@documented(USAGE)
def get_usage():
    query = parse_query(UsageQuery)
    require("read")
    tenant_id = tenant_filter(query.tenant_id)
    tenant_id = str(tenant_id) if tenant_id is not None else None
    days = query.days
    since = usage.usage_since(days)
    with db.transaction() as cur:
        rows = reply_tokens.usage_rows(cur, since=since, tenant_id=tenant_id)
        transcriptions = messages.transcription_usage_rows(cur, since=since, tenant_id=tenant_id)
    return jsonify({
        "tenant_id": tenant_id,
        "days": days,
        "since": since.date().isoformat(),
        "currency": "USD",
        "usage": usage.summarize(rows, current_app.extensions["llm_prices"], transcriptions),
    })
