"""POST /api/tenants/<id>/connect (admin): checks the tenant's Evolution
instance and points its webhook at HybridFlow, in one call.

The webhook secret is stored only as a hash, so the call either takes the
tenant's current secret in the body (`webhook_secret`, checked against the
hash) or, without it, makes a new one, sets it on Evolution, stores its hash,
and returns it once. The old secret stops working at that moment."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from flask import Blueprint, current_app, jsonify, request

from ..common import db
from ..common.auth import protect, require_admin_token
from ..common.errors import ApiError, bad_request, not_found
from ..common.logs import log_context
from ..evolution.client import WEBHOOK_EVENTS, EvolutionClient, EvolutionError

bp = Blueprint("connect", __name__)
protect(bp, require_admin_token)


def default_webhook_url(n8n_webhook_url: str) -> str:
    """Where Evolution should post: n8n's production webhook of the inbound flow."""
    return n8n_webhook_url.rstrip("/") + "/webhook/evolution"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tenant_by_id(cur, tenant_id) -> dict | None:
    try:
        tid = uuid.UUID(str(tenant_id))
    except ValueError:
        return None
    cur.execute("SELECT id, instance_name, evo_server_url, evo_api_key, webhook_secret_hash"
                " FROM tenants WHERE id = %s", (tid,))
    return cur.fetchone()


def store_secret_hash(cur, tenant_id, digest: str) -> None:
    cur.execute("UPDATE tenants SET webhook_secret_hash = %s, updated_at = now() WHERE id = %s",
                (digest, tenant_id))


def _options() -> tuple[str | None, str | None]:
    body = request.get_json(silent=True) if request.content_length else {}
    if body is None:
        raise bad_request("the body must be JSON (Content-Type: application/json)", "body", "malformed")
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object", "body", "malformed")
    url, secret = body.get("webhook_url"), body.get("webhook_secret")
    if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
        raise bad_request("webhook_url must be an http(s) URL", "webhook_url")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise bad_request("webhook_secret must be a non-empty string", "webhook_secret")
    return url, secret


def _gateway_error(err: EvolutionError, step: str) -> ApiError:
    return ApiError(502, f"evolution_{err.kind}", f"{step}: {err.message}")


@bp.post("/api/tenants/<tenant_id>/connect")
def connect(tenant_id):
    url, secret = _options()
    cfg = current_app.config["HF"]
    url = url or default_webhook_url(cfg.n8n_webhook_url)
    with db.transaction() as cur:
        tenant = tenant_by_id(cur, tenant_id)
    if tenant is None:
        raise not_found(f"no tenant {tenant_id}", "tenant_id")
    log_context(tenant=tenant["instance_name"])
    if not tenant["evo_server_url"]:
        raise bad_request("the tenant has no evo_server_url: set it with PATCH /api/tenants/<id> first",
                          "evo_server_url")
    rotated = secret is None
    if rotated:
        secret = secrets.token_urlsafe(32)
    elif not hmac.compare_digest(secret_hash(secret), tenant["webhook_secret_hash"]):
        raise bad_request("webhook_secret is not this tenant's secret (leave it out to make a new one)",
                          "webhook_secret")

    client = EvolutionClient(tenant["evo_server_url"], tenant["evo_api_key"], timeout=cfg.http_timeout, attempts=1)
    instance = tenant["instance_name"]
    try:
        reported = client.connection_state(instance)
        state = ((reported.get("instance") if isinstance(reported, dict) else None) or {}).get("state")
    except EvolutionError as err:
        raise _gateway_error(err, "checking the instance") from None
    try:
        client.set_webhook(instance, url, {"X-Webhook-Secret": secret})
    except EvolutionError as err:
        raise _gateway_error(err, "setting the webhook") from None
    if rotated:
        # only now: until Evolution has the new secret, the old one keeps working
        with db.transaction() as cur:
            store_secret_hash(cur, tenant["id"], secret_hash(secret))

    answer = {
        "tenant_id": str(tenant["id"]),
        "instance": instance,
        "connection_state": state,
        "connected": state == "open",
        "webhook": {"url": url, "events": list(WEBHOOK_EVENTS), "enabled": True},
        "secret_rotated": rotated,
    }
    if rotated:
        answer["webhook_secret"] = secret
    if state != "open":
        answer["hint"] = ("the instance is not connected to WhatsApp (state "
                          f"{state!r}): scan its QR code in the Evolution Manager")
    return jsonify(answer)
