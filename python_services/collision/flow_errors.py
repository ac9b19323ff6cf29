"""POST /flows/errors: the errors flow records a failed n8n execution here.
Where the error names a reply token, the token is marked failed too, so the
failure shows on the reply itself and nothing waits silently."""
from __future__ import annotations

import re

from flask import Blueprint, jsonify

from ..common import db
from ..common.auth import protect
from ..common.errors import bad_request
from ..common.logs import log_context
from ..common.params import check_storable
from ..common.web import json_body
from ..core import reply_tokens
from ..core.ledger import fail_token

bp = Blueprint("flow_errors", __name__)
protect(bp)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
LIMITS = {"workflow_id": 100, "workflow_name": 200, "execution_id": 100, "node": 200, "message": 4000, "description": 4000}


def parse_flow_error(body: dict) -> dict:
    out = {}
    for field, limit in LIMITS.items():
        value = body.get(field)
        if value is not None and not isinstance(value, (str, int)):
            raise bad_request(f"{field} must be a string", field)
        out[field] = None if value is None else check_storable(field, str(value)[:limit])
    for required in ("workflow_id", "message"):
        if not out[required]:
            raise bad_request(f"{required} is required", required)
    return out


def record_flow_error(cur, err: dict) -> dict:
    """Stores the failure; links (and fails) the first existing reply token it names."""
    token_id = None
    for candidate in UUID.findall(" ".join(filter(None, (err["message"], err["description"])))):
        if reply_tokens.exists(cur, candidate):
            token_id = candidate
            break
    cur.execute(
        "INSERT INTO flow_errors (workflow_id, workflow_name, execution_id, node, message, description, reply_token_id)"
        " VALUES (%(workflow_id)s, coalesce(%(workflow_name)s, ''), %(execution_id)s, %(node)s, %(message)s,"
        " %(description)s, %(token)s) RETURNING id",
        {**err, "token": token_id},
    )
    row = {"flow_error_id": cur.fetchone()["id"], "reply_token": token_id}
    if token_id:
        row["reply_state"] = fail_token(cur, token_id, f"flow {err['workflow_name'] or err['workflow_id']}: {err['message']}")["state"]
    return row


def prune_older_than(cur, cutoff, limit: int) -> int:
    """Deletes up to `limit` flow failures recorded before `cutoff`, oldest
    first (FLOW_ERRORS_RETENTION_DAYS: they belong to no tenant). Returns how many went."""
    cur.execute(
        "DELETE FROM flow_errors WHERE id IN (SELECT id FROM flow_errors WHERE recorded_at < %s"
        " ORDER BY recorded_at LIMIT %s FOR UPDATE SKIP LOCKED)",
        (cutoff, limit),
    )
    return cur.rowcount


@bp.post("/flows/errors")
def flow_error():
    err = parse_flow_error(json_body())
    with db.transaction() as cur:
        result = record_flow_error(cur, err)
    log_context(reply_token=result["reply_token"], outcome="flow_error")
    return jsonify(result), 201
