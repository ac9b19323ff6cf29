"""POST /webhooks/evolution: n8n forwards every Evolution webhook here."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..common import db
from ..common.auth import protect
from ..common.errors import ApiError
from ..common.web import json_body

bp = Blueprint("webhooks", __name__)
protect(bp)


@bp.post("/webhooks/evolution")
def evolution_webhook():
    # Foundation placeholder: records the delivery; issue 3 gives it the rules.
    body = json_body()
    instance = body.get("instance")
    if not isinstance(instance, str) or not instance:
        raise ApiError(400, "invalid", "instance must be a non-empty string", "instance")
    with db.transaction() as cur:
        cur.execute("SELECT id FROM tenants WHERE instance_name = %s", (instance,))
        row = cur.fetchone()
        if row is None:
            raise ApiError(404, "unknown_instance", f"no tenant for instance {instance!r}", "instance")
        cur.execute(
            "INSERT INTO events (tenant_id, event_type, decision, reason) VALUES (%s, %s, 'ignore', 'foundation') RETURNING id",
            (row["id"], str(body.get("event", ""))),
        )
        event_id = cur.fetchone()["id"]
    return jsonify({"decision": "ignore", "reason": "foundation", "event_id": event_id})
