"""Rotating a tenant's webhook secret without losing webhooks: the new
secret is accepted from the moment it is stored, and the one it replaces for
the tenant's `webhook_secret_grace_minutes` (60 by default) after that, so
Evolution can be switched over in the meantime. Each rotation is a row in
the tenant's timeline (event_type `hybridflow.secret_rotated`, decision
`command`, no chat) saying until when the previous secret is accepted."""
from __future__ import annotations

from . import events, tenants
from .settings import effective_settings
from .webhook_secrets import grace_until, local_time

ROTATED = "hybridflow.secret_rotated"


def rotate(cur, tenant_id, new_hash: str, by: str, *, replacing: str | None = None,
           actor: str | None = None) -> dict | None:
    """Stores the new hash (keeping the replaced one for the grace period) and
    records it in the timeline (`by`: how, `actor`: who); the tenant's row, or None when `replacing` is
    no longer the current hash (another rotation came first)."""
    row = tenants.rotate_webhook_secret(cur, tenant_id, new_hash, replacing=replacing)
    if row is None:
        return None
    settings = effective_settings(row["settings"])
    grace = settings["webhook_secret_grace_minutes"]
    if grace > 0:
        until = local_time(grace_until(row, grace), settings["timezone"])
        kept = f"the previous secret is accepted until {until} (webhook_secret_grace_minutes {grace:g})"
    else:
        kept = "the previous secret is no longer accepted (webhook_secret_grace_minutes is 0)"
    events.record_tenant_event(cur, row["id"], ROTATED, f"webhook secret rotated by {by}; {kept}", actor=actor)
    return row


def previous_accepted_until(row: dict):
    """Until when the tenant's previous secret is accepted (None without one)."""
    return grace_until(row, effective_settings(row["settings"])["webhook_secret_grace_minutes"])
