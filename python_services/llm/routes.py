"""The llm service's routes: POST /reply for the flow (service token) and
GET /api/usage for the admin (bearer token). Each parses, calls a plain
function and shapes the answer."""
from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify, request

from ..common import db
from ..common.auth import protect, require_admin_token
from ..common.errors import bad_request
from ..common.logs import log_context
from ..common.web import json_body
from . import reply, usage

reply_bp = Blueprint("reply", __name__)
protect(reply_bp)

usage_bp = Blueprint("usage", __name__)
protect(usage_bp, require_admin_token)

MAX_USAGE_DAYS = 366


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
    log_context(outcome=answer["outcome"])
    return jsonify(answer)


@usage_bp.get("/api/usage")
def get_usage():
    tenant_id = request.args.get("tenant_id") or None
    if tenant_id is not None:
        tenant_id = _uuid(tenant_id, "tenant_id")
    raw_days = request.args.get("days", "7")
    try:
        days = int(raw_days)
    except ValueError:
        raise bad_request(f"days must be a whole number from 1 to {MAX_USAGE_DAYS}", "days") from None
    if not 1 <= days <= MAX_USAGE_DAYS:
        raise bad_request(f"days must be a whole number from 1 to {MAX_USAGE_DAYS}", "days")
    since = usage.usage_since(days)
    with db.transaction() as cur:
        rows = usage.usage_rows(cur, since=since, tenant_id=tenant_id)
    return jsonify({
        "tenant_id": tenant_id,
        "days": days,
        "since": since.date().isoformat(),
        "currency": "USD",
        "usage": usage.summarize(rows, current_app.extensions["llm_prices"]),
    })
