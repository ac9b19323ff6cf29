"""Who is calling the admin API, and what it may reach: Authorization:
Bearer with ADMIN_TOKEN (the platform admin) or with a tenant's API token
(core/api_tokens.py), checked before every route of a blueprint that is
protected with require_api_access. The rules themselves are in
core/access.py; the routes ask here:

- reach(tenant_id): 404 for a tenant (or its chats, users, tokens) outside
  the caller's tenant, exactly as for an id that does not exist;
- require(action, tenant_id): reach, then 403 when the role may not;
- tenant_filter(tenant_id): the tenant a list is filtered on (a tenant
  token's own, whatever it asked).

The llm service's GET /api/usage uses it too: same database, in-process."""
from __future__ import annotations

from flask import g, request

from ..common import db
from ..common.auth import has_admin_token
from ..common.cors import is_preflight
from ..common.errors import ApiError, not_found
from ..common.logs import log_context
from . import api_tokens
from .access import PLATFORM_ADMIN, Principal, refusal, token_principal

UNAUTHORIZED = "missing or wrong token (Authorization: Bearer <ADMIN_TOKEN or a tenant's API token>)"


def bearer() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate() -> Principal:
    """The caller, or a 401 (the same one for a wrong, unknown or revoked token)."""
    if has_admin_token():
        return PLATFORM_ADMIN
    token = bearer()
    if token and api_tokens.looks_like_token(token):
        with db.transaction() as cur:
            row = api_tokens.live(cur, token)
        if row is not None:
            return token_principal(row)
    raise ApiError(401, "unauthorized", UNAUTHORIZED, "Authorization")


def require_api_access() -> None:
    """before_request of the admin API's blueprints: a CORS preflight passes
    (browsers send no token with it; it runs no route), anything else needs a token."""
    if is_preflight():
        return
    g.principal = authenticate()
    if not g.principal.platform:
        log_context(tenant=str(g.principal.tenant_id), principal=g.principal.label)


def principal() -> Principal:
    return g.principal


def reach(tenant_id, what: str = "tenant", ident=None) -> None:
    """404 unless the caller may see this tenant's data (`what` and `ident`
    word the 404 as for an id that does not exist)."""
    if not principal().sees(tenant_id):
        raise not_found(f"no {what} {ident if ident is not None else tenant_id}")


def require(action: str, tenant_id=None, what: str = "tenant", ident=None) -> Principal:
    """The caller, when it may do `action` (in `tenant_id`, when given)."""
    who = principal()
    if tenant_id is not None:
        reach(tenant_id, what, ident)
    if not who.may(action):
        raise ApiError(403, "forbidden", refusal(who, action), "Authorization")
    return who


def tenant_filter(asked):
    """The tenant a list is filtered on: what the platform admin asked (None:
    all), a tenant principal's own (another tenant's id: 404)."""
    who = principal()
    if who.platform:
        return asked
    if asked is not None:
        reach(asked)
    return who.tenant_id
