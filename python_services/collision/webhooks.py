"""POST /webhooks/evolution: n8n forwards every Evolution webhook here, and
gets back the decision to route on. A refusal (400/401/413) stores nothing;
the recording itself is in recording.py.

Who sent it is settled first, on the body as parsed: an unknown instance and
a missing or wrong secret get the same 401 (instance names cannot be probed),
and only a body let in is cleaned (NUL, lone surrogates, NaN, nesting) and
read. The body's size is capped by MAX_CONTENT_LENGTH (app.py): 413."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request

from ..common import db, metrics
from ..common.auth import protect
from ..common.errors import ApiError, bad_request
from ..common.logs import log_context
from ..common.web import json_body
from ..core import tenants
from ..core.events import database_now
from ..core.normalize import normalize
from ..core.payload import clean_body
from ..core.settings import effective_settings
from ..core.webhook_secrets import HEADER as SECRET_HEADER
from ..core.webhook_secrets import check_secret, local_time
from .recording import record_webhook

bp = Blueprint("webhooks", __name__)
protect(bp)


def unauthorized() -> ApiError:
    """The one refusal for an unknown instance and a missing or wrong secret (another tenant's included)."""
    return ApiError(401, "unauthorized", f"missing or wrong {SECRET_HEADER} header", SECRET_HEADER)


@bp.post("/webhooks/evolution")
def evolution_webhook():
    started = time.perf_counter()
    try:
        body = json_body()
        instance = body.get("instance")
        if not isinstance(instance, str) or not instance.strip():
            raise bad_request("instance must be a non-empty string", "instance", "malformed")
        with db.transaction() as cur:
            # the name alone cleaned (a NUL dropped); a name no tenant can have
            # (tenants.valid_instance_name) is not looked up: it is unknown like any other
            name = clean_body(instance).strip()
            tenant = tenants.by_instance(cur, name) if tenants.valid_instance_name(name) else None
            if tenant is None:
                # the operator's log says which; the answer is the wrong secret's
                log_context(refused="unknown instance")
                raise unauthorized()
            log_context(tenant=str(tenant["id"]))
            now = database_now(cur)
            settings = effective_settings(tenant["settings"])
            secret = check_secret(request.headers.get(SECRET_HEADER), tenant,
                                  settings["webhook_secret_grace_minutes"], now)
            if not secret.accepted:
                if secret.previous:
                    # the same 401 as any wrong secret (nothing to probe); the operator's log says which
                    log_context(secret="previous, grace over")
                raise unauthorized()
            # let in: what Postgres cannot store (NUL, lone surrogates, NaN) is cleaned
            # out, and a body nested absurdly deep refused (400), before it is read
            body = clean_body(body)
            note = None
            if secret.previous:
                # the timeline shows it: Evolution still has the secret a rotation replaced
                note = ("accepted with the previous webhook secret (grace until "
                        f"{local_time(secret.grace_until, settings['timezone'])})")
                log_context(secret="previous")
            event = normalize(body, now)
            answer = record_webhook(cur, tenant, event, now, started,
                                    reply_margin=current_app.config["HF"].reply_deadline_margin, note=note,
                                    prices=current_app.extensions["llm_prices"])
    except ApiError as err:
        # nothing was stored; the log line says why (never the secret itself)
        log_context(decision="refused", reason=err.code, status=err.status)
        raise
    # counted once committed (a rolled-back transaction decided nothing); decisions are core.decide's names
    metrics.DECISIONS.labels(answer["decision"]).inc()
    log_context(chat=answer["chat_id"], message_id=answer["wa_message_id"], decision=answer["decision"],
                reply_token=answer["reply_token"], reason=answer["reason"])
    return jsonify(answer)
