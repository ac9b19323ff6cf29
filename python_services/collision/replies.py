"""/tokens/*: the reply path of the n8n flow over HTTP. Each route parses,
calls the plain function of tokens.py in one transaction, and answers."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..common import db
from ..common.auth import protect
from ..common.errors import bad_request
from ..common.logs import log_context
from ..common.web import json_body
from . import tokens

bp = Blueprint("replies", __name__)
protect(bp)

DEFAULT_MAX_ATTEMPTS = 3


def _body() -> dict:
    # recover may come with an empty body
    return json_body() if request.get_data() else {}


def _run(fn, token_id, *args, **kwargs) -> dict:
    log_context(reply_token=str(token_id))
    with db.transaction() as cur:
        result = fn(cur, token_id, *args, **kwargs)
    log_context(tenant=result.get("tenant_id") or result.get("instance"), chat=result.get("chat_id"),
                outcome=result.get("state") or ("claimed" if result.get("claimed") else None))
    return result


@bp.post("/tokens/<token_id>/check")
def check(token_id):
    return jsonify(_run(tokens.check_token, token_id))


@bp.post("/tokens/<token_id>/claim")
def claim(token_id):
    body = json_body()
    handoff = body.get("handoff", False)
    if not isinstance(handoff, bool):
        raise bad_request("handoff must be true or false", "handoff")
    return jsonify(_run(tokens.claim_send, token_id, body.get("parts"), handoff))


@bp.post("/tokens/<token_id>/confirm")
def confirm(token_id):
    body = json_body()
    return jsonify(_run(tokens.confirm_send, token_id, body.get("part"), body.get("wa_message_id")))


@bp.post("/tokens/<token_id>/fail")
def fail(token_id):
    return jsonify(_run(tokens.fail_token, token_id, json_body().get("error")))


@bp.post("/tokens/recover")
def recover():
    body = _body()
    older = body.get("older_than_seconds", 0)
    if isinstance(older, bool) or not isinstance(older, (int, float)) or older < 0:
        raise bad_request("older_than_seconds must be a number from 0", "older_than_seconds")
    max_attempts = body.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 0:
        raise bad_request("max_attempts must be a whole number from 0", "max_attempts")
    with db.transaction() as cur:
        result = tokens.recover_tokens(cur, older, max_attempts)
    log_context(outcome=f"retry={len(result['retry'])} failed={result['failed']}")
    return jsonify(result)
