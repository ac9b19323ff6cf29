"""Connecting a tenant to its Evolution instance: check the instance, point
its webhook at HybridFlow with the tenant's secret, in one call.

The webhook secret is stored only as a hash, so the caller either gives the
tenant's current secret (checked against the hash) or, without it, a new one
is made, set on Evolution and returned once. No webhook is lost on the way:
the old secret keeps working until Evolution has the new one and for the
tenant's webhook_secret_grace_minutes after (core/secret_rotation.py). The
new hash is stored just before Evolution is told, so that a webhook Evolution
sends the instant it switches is not refused either; if setting it fails,
the old secret is made current again (the new one stays accepted for the
grace period, in case Evolution took it before failing to answer)."""
from __future__ import annotations

from ..common import db
from ..common.errors import ApiError, bad_request, not_found
from . import tenants
from .evolution_client import WEBHOOK_EVENTS, EvolutionClient, EvolutionError
from .secret_rotation import previous_accepted_until, rotate
from .webhook_secrets import HEADER, new_secret, secret_matches


def _gateway_error(err: EvolutionError, step: str) -> ApiError:
    return ApiError(502, f"evolution_{err.kind}", f"{step}: {err.message}")


def connect_tenant(tenant_id, *, webhook_url: str, webhook_secret: str | None, timeout: float,
                   by: str = "the platform admin") -> dict:
    """The answer of POST /api/tenants/<id>/connect; ApiError for what the caller can fix."""
    with db.transaction() as cur:
        tenant = tenants.by_id(cur, tenant_id)
    if tenant is None:
        raise not_found(f"no tenant {tenant_id}", "tenant_id")
    if not tenant["evo_server_url"]:
        raise bad_request("the tenant has no evo_server_url: set it with PATCH /api/tenants/<id> first",
                          "evo_server_url")
    rotated = webhook_secret is None
    if rotated:
        webhook_secret, digest = new_secret()
    elif not secret_matches(webhook_secret, tenant["webhook_secret_hash"]):
        raise bad_request("webhook_secret is not this tenant's secret (leave it out to make a new one)",
                          "webhook_secret")

    client = EvolutionClient(tenant["evo_server_url"], tenant["evo_api_key"], timeout=timeout, attempts=1)
    instance = tenant["instance_name"]
    try:
        reported = client.connection_state(instance)
        state = ((reported.get("instance") if isinstance(reported, dict) else None) or {}).get("state")
    except EvolutionError as err:
        raise _gateway_error(err, "checking the instance") from None
    if rotated:
        with db.transaction() as cur:
            # both secrets work from here on: the old one for the grace period
            row = rotate(cur, tenant["id"], digest, "connect", replacing=tenant["webhook_secret_hash"], actor=by)
            if row is None:
                raise ApiError(409, "conflict", "the webhook secret was rotated meanwhile: connect again",
                               "webhook_secret")
    try:
        client.set_webhook(instance, webhook_url, {HEADER: webhook_secret})
    except EvolutionError as err:
        if rotated:
            with db.transaction() as cur:
                rotate(cur, tenant["id"], tenant["webhook_secret_hash"],
                       f"connect, undone: setting the webhook on Evolution failed ({err.kind})", replacing=digest,
                       actor=by)
        raise _gateway_error(err, "setting the webhook") from None

    answer = {
        "tenant_id": str(tenant["id"]),
        "instance": instance,
        "connection_state": state,
        "connected": state == "open",
        "webhook": {"url": webhook_url, "events": list(WEBHOOK_EVENTS), "enabled": True},
        "secret_rotated": rotated,
    }
    if rotated:
        answer["webhook_secret"] = webhook_secret
        until = previous_accepted_until(row)
        answer["previous_webhook_secret_accepted_until"] = until.isoformat() if until else None
    if state != "open":
        answer["hint"] = ("the instance is not connected to WhatsApp (state "
                          f"{state!r}): scan its QR code in the Evolution Manager")
    return answer
