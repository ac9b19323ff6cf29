"""Each tenant's webhook secret: Evolution sends it back as the header
X-Webhook-Secret; only its sha256 is stored, and it is shown once.

After a rotation the previous secret's hash is kept beside the new one and
still accepted for the tenant's `webhook_secret_grace_minutes`, counted from
the rotation, so the webhooks Evolution sends before it has the new secret
are not lost (Evolution does not retry a 401)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

HEADER = "X-Webhook-Secret"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> tuple[str, str]:
    """A fresh secret and its hash."""
    secret = secrets.token_urlsafe(32)
    return secret, secret_hash(secret)


def secret_matches(given: str | None, stored_hash: str | None) -> bool:
    if not given or not stored_hash:
        return False
    return hmac.compare_digest(secret_hash(given), stored_hash)


@dataclass(frozen=True)
class SecretCheck:
    accepted: bool
    # the previous secret (after a rotation) was given
    previous: bool = False
    # when the previous secret stops (or stopped) being accepted
    grace_until: datetime | None = None


def grace_until(tenant: dict, grace_minutes: float) -> datetime | None:
    """Until when the tenant's previous secret is accepted; None without one."""
    if not tenant.get("previous_webhook_secret_hash") or tenant.get("webhook_secret_rotated_at") is None:
        return None
    return tenant["webhook_secret_rotated_at"] + timedelta(minutes=grace_minutes)


def check_secret(given: str | None, tenant: dict, grace_minutes: float, now: datetime) -> SecretCheck:
    """The current secret is accepted; the previous one too until
    rotated_at + grace (`now` is the database's clock)."""
    if secret_matches(given, tenant["webhook_secret_hash"]):
        return SecretCheck(True)
    if secret_matches(given, tenant.get("previous_webhook_secret_hash")):
        until = grace_until(tenant, grace_minutes)
        return SecretCheck(until is not None and now < until, previous=True, grace_until=until)
    return SecretCheck(False)


def local_time(moment: datetime, timezone: str = "UTC") -> str:
    """A moment as the tenant reads it in the timeline: 2026-05-01 14:05 America/Sao_Paulo."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone, timezone = ZoneInfo("UTC"), "UTC"
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {timezone}"
