"""Admin API, tenants: create (the webhook secret is returned once, only its
sha256 is kept), list, get, patch, rotate the secret. The Evolution API key is
never returned whole. The request bodies are the pydantic models of
core/api_models.py; settings keys are checked by core/settings.py's rules."""
from __future__ import annotations

import psycopg2.errors
from flask import Blueprint, jsonify

from ..common import db
from ..common.auth import protect
from ..common.errors import ApiError, bad_request
from ..common.logs import log_context
from ..common.openapi import Operation, documented
from ..common.params import found, iso, path_uuid, shaped
from ..common.validation import parse_body
from ..core import tenants
from ..core.api_auth import require, require_api_access
from ..core.api_models import NewTenant, RotatedSecret, Tenant, TenantChanges, TenantCreated, TenantList
from ..core.retention import retention_policy
from ..core.secret_rotation import previous_accepted_until, rotate
from ..core.settings import effective_settings, mask_secret, public_settings
# a change (merge, check, record in the timeline) is core's: the console's settings page makes it too
from ..core.tenant_changes import change_tenant, merged_settings
from ..core.webhook_secrets import new_secret

bp = Blueprint("tenants", __name__)
protect(bp, require_api_access)

SHOWN = ("id", "instance_name", "business_name", "evo_server_url", "system_prompt", "llm_provider", "llm_model",
         "created_at", "updated_at")
TAGS = ("tenants",)


# ---------------------------------------------------------------- shapes


def shape(row: dict) -> dict:
    out = shaped(row, SHOWN)
    out["evo_api_key"] = mask_secret(row["evo_api_key"]) if row["evo_api_key"] else ""
    out["settings"] = public_settings(row["settings"])
    out["effective_settings"] = public_settings(effective_settings(row["settings"]))
    # what is kept for how long, and until when a rotated-out webhook secret still works
    out["retention"] = retention_policy(effective_settings(row["settings"]))
    out["webhook_secret_rotated_at"] = iso(row.get("webhook_secret_rotated_at"))
    out["previous_webhook_secret_accepted_until"] = iso(previous_accepted_until(row))
    return out


def tenant_row(cur, tenant_id, lock=False) -> dict:
    return found(tenants.by_id(cur, tenant_id, lock=lock), "tenant", tenant_id)


def _conflict(instance_name) -> ApiError:
    return ApiError(409, "conflict", f"a tenant with instance_name {instance_name!r} exists", "instance_name")


# ---------------------------------------------------------------- routes


@bp.post("/api/tenants")
@documented(Operation("Create a tenant (a business)", TAGS, access="the platform admin", body=NewTenant,
                      answer=TenantCreated, status=201, errors=(400, 401, 403, 409),
                      description="The webhook secret is in the answer this once; only its sha256 is kept."))
def create_tenant():
    require("tenants.create")
    body = parse_body(NewTenant, what="a tenant field")
    fields = body.model_dump(exclude_unset=True, exclude={"settings"})
    settings = merged_settings({}, body.settings if body.settings is not None else {})
    secret, secret_hash = new_secret()
    try:
        with db.transaction() as cur:
            row = tenants.insert(cur, fields, settings, secret_hash)
    except psycopg2.errors.UniqueViolation:
        raise _conflict(fields["instance_name"]) from None
    log_context(tenant=str(row["id"]))
    # the only time the secret is shown: Evolution's webhook sends it back as X-Webhook-Secret
    return jsonify({**shape(row), "webhook_secret": secret}), 201


@bp.get("/api/tenants")
@documented(Operation("List tenants", TAGS, access="any token: the platform admin sees every tenant, a tenant "
                      "token its own", answer=TenantList, errors=(401,)))
def list_tenants():
    who = require("read")
    with db.transaction() as cur:
        if who.platform:
            rows = tenants.all_tenants(cur)
        else:
            rows = [row for row in [tenants.by_id(cur, who.tenant_id)] if row is not None]
    return jsonify({"tenants": [shape(r) for r in rows]})


@bp.get("/api/tenants/<tenant_id>")
@documented(Operation("Get a tenant", TAGS, access="viewer, agent, owner; the platform admin", answer=Tenant,
                      errors=(401, 404)))
def get_tenant(tenant_id):
    tenant_id = path_uuid(tenant_id, "tenant")
    require("read", tenant_id)
    with db.transaction() as cur:
        row = tenant_row(cur, tenant_id)
    return jsonify(shape(row))


@bp.patch("/api/tenants/<tenant_id>")
@documented(Operation("Change a tenant", TAGS, access="owner; the platform admin (instance_name: the platform "
                      "admin only)", body=TenantChanges, answer=Tenant, errors=(400, 401, 403, 404, 409),
                      description="Only the fields given change; in settings only the keys given, and a null puts "
                                  "a key back to its default. Recorded in the timeline "
                                  "(hybridflow.tenant_changed, naming the fields, never their values)."))
def patch_tenant(tenant_id):
    tenant_id = path_uuid(tenant_id, "tenant")
    who = require("settings.change", tenant_id)
    body = parse_body(TenantChanges, what="a tenant field")
    changes = body.model_dump(exclude_unset=True, exclude={"settings"})
    if "instance_name" in changes:
        require("tenants.rename")
    settings_given = body.settings if "settings" in body.model_fields_set else None
    if "settings" in body.model_fields_set and settings_given is None:
        raise bad_request("settings must be a JSON object", "settings")
    try:
        with db.transaction() as cur:
            row = tenant_row(cur, tenant_id, lock=True)
            row = change_tenant(cur, row, changes, settings_given, actor=who.label)
    except psycopg2.errors.UniqueViolation:
        raise _conflict(changes.get("instance_name")) from None
    log_context(tenant=str(tenant_id))
    return jsonify(shape(row))


@bp.post("/api/tenants/<tenant_id>/rotate-secret")
@documented(Operation("Rotate the webhook secret", TAGS, access="owner; the platform admin",
                      answer=RotatedSecret, errors=(401, 403, 404),
                      description="The new secret is in the answer this once; the previous one stays accepted for "
                                  "settings.webhook_secret_grace_minutes."))
def rotate_secret(tenant_id):
    tenant_id = path_uuid(tenant_id, "tenant")
    who = require("settings.change", tenant_id)
    secret, secret_hash = new_secret()
    with db.transaction() as cur:
        tenant_row(cur, tenant_id, lock=True)
        # the old secret keeps working for settings.webhook_secret_grace_minutes: give Evolution the new one by then
        row = rotate(cur, tenant_id, secret_hash, "POST /api/tenants/<id>/rotate-secret", actor=who.label)
    log_context(tenant=str(tenant_id))
    return jsonify({"id": str(tenant_id), "webhook_secret": secret,
                    "previous_webhook_secret_accepted_until": iso(previous_accepted_until(row))})
