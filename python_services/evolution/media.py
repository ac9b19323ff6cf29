"""POST /media/fetch: a message's photo, voice note or document, from
Evolution (getBase64FromMediaMessage) or from the webhook's own base64 when
the caller passes it on. For the flow and for tools; the llm service fetches
in-process through the same core function (core/media_fetch.py).

Body: {"tenant_id", "wa_message_id", "base64"?}. Answers 200 with
{"outcome": "fetched", "mediaType", "fileName", "mimetype", "base64", "bytes",
"source"}, or, as for sends, {"outcome": "failed", "kind", "error",
"status"} when Evolution (or the size limit) says no: a value the flow can
route, never a 500. Bad input: 400 naming the field; a message the tenant
does not have (another tenant's included): 404."""
from __future__ import annotations

import base64
import logging

from flask import Blueprint, current_app, jsonify

from ..common import db
from ..common.auth import protect
from ..common.errors import bad_request
from ..common.logs import log_context, log_event
from ..common.web import json_body
from ..core import media_fetch
from ..core.media import kind_of

log = logging.getLogger("hybridflow.evolution.media")

bp = Blueprint("media", __name__)
protect(bp)


@bp.post("/media/fetch")
def fetch_media():
    request = media_fetch.parse_request(json_body())
    with db.transaction() as cur:
        tenant, message = media_fetch.find_message(cur, request)
    ref = message["media"]
    if not kind_of(ref):
        raise bad_request(f"message {request.wa_message_id!r} carries no media ({message['message_type']})",
                          "wa_message_id")
    log_context(tenant=tenant["instance_name"], chat=message["chat_id"], wa_message_id=request.wa_message_id)
    cfg = current_app.config["HF"]
    try:
        media = media_fetch.fetch(tenant, request.wa_message_id, ref, cfg, inline_base64=request.inline_base64)
    except media_fetch.MediaError as err:
        log_event(log, "media fetch failed", logging.WARNING, kind=err.kind, status=err.status)
        log_context(outcome="failed")
        return jsonify({"outcome": "failed", "kind": err.kind, "error": err.message, "status": err.status})
    log_context(outcome="fetched", bytes=len(media.data))
    return jsonify({
        "outcome": "fetched", "mediaType": ref.get("type"), "fileName": media.file_name,
        "mimetype": media.mimetype, "base64": base64.b64encode(media.data).decode("ascii"),
        "bytes": len(media.data), "source": media.source,
    })
