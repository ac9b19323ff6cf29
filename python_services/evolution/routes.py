"""POST /send: the flow hands over a reply; the answer is its outcome."""
from __future__ import annotations

import uuid

from flask import Blueprint, g, jsonify

from ..common import metrics
from ..common.auth import protect
from ..common.errors import bad_request
from ..common.logs import log_context
from ..common.web import json_body
from . import sending

bp = Blueprint("send", __name__)
protect(bp)


@bp.post("/send")
def send():
    body = json_body()
    try:
        token_id = uuid.UUID(str(body.get("reply_token")))
    except ValueError:
        raise bad_request("reply_token must be a uuid", "reply_token") from None
    text = body.get("text")
    if not isinstance(text, str) or not sending.split_reply(text):
        raise bad_request("text must be a non-empty string", "text")
    handoff = body.get("handoff", False)
    if not isinstance(handoff, bool):
        raise bad_request("handoff must be true or false", "handoff")
    log_context(reply_token=str(token_id))
    result = sending.send_reply(token_id, text, handoff)
    metrics.SENDS.labels(result["outcome"]).inc()
    # each message sent to Evolution again (sending.retry_wait), by how the reply ended
    metrics.SEND_RETRIES.labels(result["outcome"]).inc(g.get("send_retries", 0))
    log_context(outcome=result["outcome"])
    return jsonify(result)
