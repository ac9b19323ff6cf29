"""Onboarding a tenant through the collision service's admin API, written
once for everything outside the services that needs a tenant: the demo of
`make up` (ops/demo.py), the flow tests and `make bench`.

The answers it relies on (the admin API: README "Operations", docs/connect-evolution.md):
- POST /api/tenants -> 201, the tenant's fields at the top level (its "id"
  among them) and "webhook_secret", shown this once;
- POST /api/tenants/<id>/connect {"webhook_url", "webhook_secret"?} -> 200;
  without "webhook_secret" it makes a new one and answers it as
  "webhook_secret", with it (checked) the secret stays and is not repeated;
- GET /api/tenants -> 200 {"tenants": [...]};
- PATCH /api/tenants/<id> -> 200, the tenant.
Anything else is an OnboardingError that names the call and says what came back."""
from __future__ import annotations

import requests

TIMEOUT = 30


class OnboardingError(RuntimeError):
    """A call of the admin API that failed or answered something unexpected."""


def admin_session(admin_token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {admin_token}"
    return session


def call(session: requests.Session, method: str, url: str, expect: int, **kwargs) -> dict:
    """One admin API call that must answer `expect` with a JSON object."""
    try:
        resp = session.request(method, url, timeout=TIMEOUT, **kwargs)
    except requests.RequestException as exc:
        raise OnboardingError(f"{method} {url}: {type(exc).__name__} (is the collision service running?)") from None
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code != expect or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        said = error.get("message") if isinstance(error, dict) else resp.text[:300]
        raise OnboardingError(f"{method} {url} answered {resp.status_code}, not {expect}: {said}")
    return body


def create_tenant(session: requests.Session, collision_url: str, body: dict) -> tuple[dict, str]:
    """The new tenant's fields and its webhook secret (shown by the API this once)."""
    created = call(session, "POST", collision_url.rstrip("/") + "/api/tenants", 201, json=body)
    secret = created.pop("webhook_secret", None)
    if not created.get("id") or not secret:
        raise OnboardingError(f"POST /api/tenants answered 201 without the tenant's id or webhook_secret: "
                              f"{sorted(created)}")
    return created, secret


def connect_tenant(session: requests.Session, collision_url: str, tenant_id: str, webhook_url: str,
                   webhook_secret: str | None = None) -> dict:
    """Points the tenant's Evolution webhook at `webhook_url`. With the tenant's
    current secret it stays; without, a new one is made and is in the answer."""
    body = {"webhook_url": webhook_url}
    if webhook_secret is not None:
        body["webhook_secret"] = webhook_secret
    connected = call(session, "POST", f"{collision_url.rstrip('/')}/api/tenants/{tenant_id}/connect", 200,
                     json=body)
    if webhook_secret is None and not connected.get("webhook_secret"):
        raise OnboardingError(f"POST /api/tenants/{tenant_id}/connect made no new webhook_secret")
    return connected


def list_tenants(session: requests.Session, collision_url: str) -> list[dict]:
    return call(session, "GET", collision_url.rstrip("/") + "/api/tenants", 200)["tenants"]


def update_tenant(session: requests.Session, collision_url: str, tenant_id: str, changes: dict) -> dict:
    return call(session, "PATCH", f"{collision_url.rstrip('/')}/api/tenants/{tenant_id}", 200, json=changes)


def onboard_tenant(collision_url: str, admin_token: str, body: dict, webhook_url: str) -> tuple[dict, str]:
    """A new tenant, created from `body` and connected (its Evolution instance's
    webhook set to `webhook_url` with the tenant's secret); returns the
    tenant's fields and the webhook secret Evolution now sends."""
    session = admin_session(admin_token)
    tenant, secret = create_tenant(session, collision_url, body)
    connect_tenant(session, collision_url, tenant["id"], webhook_url, webhook_secret=secret)
    return tenant, secret
