"""/tokens/*: what the n8n flows ask of the reply ledger over HTTP — a reply
the flow itself saw fail, and the recovery of replies stuck past their
deadline. (The llm and evolution services use core.ledger in-process.)"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..common import db
from ..common.auth import protect
from ..common.errors import bad_request
from ..common.logs import log_context
from ..common.params import check_storable
from ..common.web import json_body
from ..core import ledger

bp = Blueprint("replies", __name__)
protect(bp)

DEFAULT_MAX_ATTEMPTS = 3
# beyond these a number is a mistake (and 1e308 seconds is no interval Postgres can hold)
MAX_AGE_SECONDS = 366 * 24 * 3600
MAX_ATTEMPTS = 100


@bp.post("/tokens/<token_id>/fail")
def fail(token_id):
    log_context(reply_token=str(token_id))
    with db.transaction() as cur:
        result = ledger.fail_token(cur, token_id, check_storable("error", json_body().get("error")))
    log_context(outcome=result.get("state"))
    return jsonify(result)


@bp.post("/tokens/recover")
def recover():
    body = json_body(optional=True)
    older = body.get("older_than_seconds", 0)
    # NaN passes `older < 0` (JSON's NaN and Infinity are read by Python), hence the range test
    if isinstance(older, bool) or not isinstance(older, (int, float)) or not 0 <= older <= MAX_AGE_SECONDS:
        raise bad_request(f"older_than_seconds must be a number from 0 to {MAX_AGE_SECONDS}", "older_than_seconds")
    max_attempts = body.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 0 <= max_attempts <= MAX_ATTEMPTS:
        raise bad_request(f"max_attempts must be a whole number from 0 to {MAX_ATTEMPTS}", "max_attempts")
    with db.transaction() as cur:
        result = ledger.recover_tokens(cur, older, max_attempts,
                                       margin_seconds=current_app.config["HF"].reply_deadline_margin)
    log_context(outcome=f"retry={len(result['retry'])} failed={result['failed']}")
    return jsonify(result)
