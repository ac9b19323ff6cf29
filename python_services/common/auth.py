"""Token checks: services call each other (and n8n calls them) with
X-Service-Token; the admin API takes Authorization: Bearer ADMIN_TOKEN."""
from __future__ import annotations

import hmac

from flask import current_app, request

from .errors import ApiError


def _matches(given: str | None, expected: str) -> bool:
    # an unset token refuses everything rather than accepting an empty header
    return bool(expected) and given is not None and hmac.compare_digest(given.encode(), expected.encode())


def has_service_token() -> bool:
    return _matches(request.headers.get("X-Service-Token"), current_app.config["HF"].service_token)


def _bearer() -> str | None:
    """The token of an `Authorization: Bearer ...` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def has_admin_token() -> bool:
    return _matches(_bearer(), current_app.config["HF"].admin_token)


def has_service_bearer() -> bool:
    """The service token as `Authorization: Bearer`: what a scraper such as
    Prometheus sends with `authorization: credentials_file` (GET /metrics)."""
    return _matches(_bearer(), current_app.config["HF"].service_token)


def require_service_token() -> None:
    if not has_service_token():
        raise ApiError(401, "unauthorized", "missing or wrong X-Service-Token header", "X-Service-Token")


def require_admin_token() -> None:
    if not has_admin_token():
        raise ApiError(401, "unauthorized", "missing or wrong admin token (Authorization: Bearer ...)", "Authorization")


def require_service_or_admin_token() -> None:
    if not (has_service_token() or has_admin_token()):
        raise ApiError(401, "unauthorized", "missing or wrong X-Service-Token or admin bearer token", "Authorization")


def protect(blueprint, check=require_service_token) -> None:
    """Every route of the blueprint requires the given token."""
    blueprint.before_request(check)
