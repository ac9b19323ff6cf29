"""POST /api/tenants/<id>/connect (owner, or the platform admin): checks the
tenant's Evolution instance and points its webhook at HybridFlow
(core.connect does it)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..common.auth import protect
from ..common.logs import log_context
from ..common.openapi import Operation, documented
from ..common.params import path_uuid
from ..common.validation import parse_body
from ..core.api_auth import require, require_api_access
from ..core.api_models import ConnectOptions, Connected
from ..core.connect import connect_tenant
from ..core.urls import default_webhook_url

bp = Blueprint("connect", __name__)
protect(bp, require_api_access)


@bp.post("/api/tenants/<tenant_id>/connect")
@documented(Operation("Connect the tenant's Evolution instance", ("tenants",), access="owner; the platform admin",
                      body=ConnectOptions, body_required=False, answer=Connected, errors=(400, 401, 403, 404),
                      description="Checks the instance and sets its webhook (with the tenant's secret: the one "
                                  "given, or a new one shown this once). 502 when Evolution fails."))
def connect(tenant_id):
    tenant_id = path_uuid(tenant_id, "tenant")
    who = require("settings.change", tenant_id)
    options = parse_body(ConnectOptions, optional=True)
    cfg = current_app.config["HF"]
    answer = connect_tenant(tenant_id, webhook_url=options.webhook_url or default_webhook_url(cfg.n8n_webhook_url),
                            webhook_secret=options.webhook_secret, timeout=cfg.http_timeout, by=who.label)
    log_context(tenant=answer["instance"])
    return jsonify(answer)
