"""Admin API, tenants: create (the webhook secret is returned once, only its
sha256 is kept), list, get, patch, rotate the secret. The Evolution API key is
never returned whole."""
from __future__ import annotations

import hashlib
import re
import secrets

import psycopg2.errors
import psycopg2.extras
from flask import Blueprint, jsonify

from ..common import db
from ..common.auth import protect, require_admin_token
from ..common.errors import ApiError, bad_request, not_found
from ..common.logs import log_context
from ..common.settings import DEFAULT_SETTINGS, PROVIDERS, effective_settings, mask_secret, public_settings, validate_settings
from ..common.web import json_body
from .params import path_uuid, shaped

bp = Blueprint("tenants", __name__)
protect(bp, require_admin_token)

INSTANCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
SHOWN = ("id", "instance_name", "business_name", "evo_server_url", "system_prompt", "llm_provider", "llm_model",
         "created_at", "updated_at")


# ---------------------------------------------------------------- validation


def _text(max_len):
    def check(name, value):
        if not isinstance(value, str) or len(value) > max_len:
            raise bad_request(f"{name} must be a string of at most {max_len} characters", name)
        return value
    return check


def _instance_name(name, value):
    if not isinstance(value, str) or not INSTANCE_NAME.match(value):
        raise bad_request(f"{name} must be 1-100 letters, digits or _.@- (starting with a letter or digit), "
                          "exactly as the Evolution instance is named", name)
    return value


def _server_url(name, value):
    if not isinstance(value, str) or len(value) > 500 or (value and not re.match(r"^https?://[^\s/]+", value)):
        raise bad_request(f"{name} must be an http(s) URL such as https://evo.example.com", name)
    return value.rstrip("/")


def _provider(name, value):
    if value not in PROVIDERS:
        raise bad_request(f"{name} must be one of {', '.join(PROVIDERS)}", name)
    return value


FIELDS = {
    "instance_name": _instance_name,
    "business_name": _text(200),
    "evo_server_url": _server_url,
    "evo_api_key": _text(500),
    "system_prompt": _text(20000),
    "llm_provider": _provider,
    "llm_model": _text(200),
}


def tenant_fields(body: dict, *, creating: bool) -> dict:
    """The body's fields, each checked; unknown fields are refused by name."""
    for name in body:
        if name not in FIELDS and name != "settings":
            raise bad_request(f"{name} is not a tenant field", name)
    if creating and "instance_name" not in body:
        raise bad_request("instance_name is required", "instance_name")
    return {name: FIELDS[name](name, value) for name, value in body.items() if name in FIELDS}


def merged_settings(stored: dict, changes) -> dict:
    """PATCH semantics for settings: given keys replace stored ones, a null
    puts a key back to its default."""
    if not isinstance(changes, dict):
        raise bad_request("settings must be a JSON object", "settings")
    for key, value in changes.items():
        if value is None and key not in DEFAULT_SETTINGS:
            raise bad_request(f"settings.{key} is not a known setting", f"settings.{key}")
    checked = validate_settings({k: v for k, v in changes.items() if v is not None})
    merged = {**stored, **checked}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
    # cross-field rules (typing_min_ms <= typing_max_ms) hold over what takes effect
    validate_settings(effective_settings(merged))
    return merged


def shape(row: dict) -> dict:
    out = shaped(row, SHOWN)
    out["evo_api_key"] = mask_secret(row["evo_api_key"]) if row["evo_api_key"] else ""
    out["settings"] = public_settings(row["settings"])
    out["effective_settings"] = public_settings(effective_settings(row["settings"]))
    return out


def new_secret() -> tuple[str, str]:
    secret = secrets.token_urlsafe(32)
    return secret, hashlib.sha256(secret.encode()).hexdigest()


# ---------------------------------------------------------------- SQL


def insert_tenant(cur, fields: dict, settings: dict, secret_hash: str) -> dict:
    cols = [*fields, "settings", "webhook_secret_hash"]
    cur.execute(
        f"INSERT INTO tenants ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) RETURNING *",
        [*fields.values(), psycopg2.extras.Json(settings), secret_hash],
    )
    return cur.fetchone()


def tenant_row(cur, tenant_id, lock=False) -> dict:
    cur.execute("SELECT * FROM tenants WHERE id = %s" + (" FOR UPDATE" if lock else ""), (tenant_id,))
    row = cur.fetchone()
    if row is None:
        raise not_found(f"no tenant {tenant_id}")
    return row


def update_tenant(cur, tenant_id, changes: dict) -> dict:
    assigns = ", ".join(f"{name} = %s" for name in changes)
    values = [psycopg2.extras.Json(v) if name == "settings" else v for name, v in changes.items()]
    cur.execute(f"UPDATE tenants SET {assigns}, updated_at = now() WHERE id = %s RETURNING *", [*values, tenant_id])
    return cur.fetchone()


def _conflict(instance_name) -> ApiError:
    return ApiError(409, "conflict", f"a tenant with instance_name {instance_name!r} exists", "instance_name")


# ---------------------------------------------------------------- routes


@bp.post("/api/tenants")
def create_tenant():
    body = json_body()
    fields = tenant_fields(body, creating=True)
    settings = merged_settings({}, body.get("settings", {}))
    secret, secret_hash = new_secret()
    try:
        with db.transaction() as cur:
            row = insert_tenant(cur, fields, settings, secret_hash)
    except psycopg2.errors.UniqueViolation:
        raise _conflict(fields["instance_name"]) from None
    log_context(tenant=str(row["id"]))
    # the only time the secret is shown: Evolution's webhook sends it back as X-Webhook-Secret
    return jsonify({**shape(row), "webhook_secret": secret}), 201


@bp.get("/api/tenants")
def list_tenants():
    with db.transaction() as cur:
        cur.execute("SELECT * FROM tenants ORDER BY created_at, instance_name")
        rows = cur.fetchall()
    return jsonify({"tenants": [shape(r) for r in rows]})


@bp.get("/api/tenants/<tenant_id>")
def get_tenant(tenant_id):
    with db.transaction() as cur:
        row = tenant_row(cur, path_uuid(tenant_id, "tenant"))
    return jsonify(shape(row))


@bp.patch("/api/tenants/<tenant_id>")
def patch_tenant(tenant_id):
    tenant_id = path_uuid(tenant_id, "tenant")
    body = json_body()
    changes = tenant_fields(body, creating=False)
    try:
        with db.transaction() as cur:
            row = tenant_row(cur, tenant_id, lock=True)
            if "settings" in body:
                changes["settings"] = merged_settings(row["settings"], body["settings"])
            if changes:
                row = update_tenant(cur, tenant_id, changes)
    except psycopg2.errors.UniqueViolation:
        raise _conflict(changes.get("instance_name")) from None
    log_context(tenant=str(tenant_id))
    return jsonify(shape(row))


@bp.post("/api/tenants/<tenant_id>/rotate-secret")
def rotate_secret(tenant_id):
    tenant_id = path_uuid(tenant_id, "tenant")
    secret, secret_hash = new_secret()
    with db.transaction() as cur:
        tenant_row(cur, tenant_id, lock=True)
        update_tenant(cur, tenant_id, {"webhook_secret_hash": secret_hash})
    log_context(tenant=str(tenant_id))
    return jsonify({"id": str(tenant_id), "webhook_secret": secret})
