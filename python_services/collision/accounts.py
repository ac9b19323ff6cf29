"""Admin API, a tenant's people and API tokens (owner, or the platform
admin): add, list and remove people with their role; make (shown once),
list and revoke tokens. Each change is a row in the tenant's timeline naming
who made it. The rules are in core/accounts.py and core/access.py."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..common import db
from ..common.auth import protect
from ..common.logs import log_context
from ..common.openapi import Operation, documented
from ..common.params import found, path_uuid, shaped
from ..common.validation import parse_body
# the changes and their rows in the timeline are core/team.py's: the console's team page makes them too
from ..core import api_tokens, memberships, team, tenants
from ..core.api_auth import require, require_api_access
from ..core.api_models_people import (ApiToken, ApiTokenCreated, ApiTokenList, Member, MemberAdded, MemberList,
                                      NewMember, NewToken)

bp = Blueprint("accounts", __name__)
protect(bp, require_api_access)

MEMBER = ("id", "email", "role", "added_at", "last_login_at", "created_at")
TOKEN = ("id", "tenant_id", "name", "role", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")
USERS, TOKENS = ("users",), ("tokens",)
OWNER = "owner; the platform admin"


def tenant_in_reach(tenant_id: str, action: str):
    """The tenant's id and the caller, when the caller may do `action` there
    (another tenant's id: 404, as an unknown one; a role that may not: 403)."""
    tenant_id = path_uuid(tenant_id, "tenant")
    return tenant_id, require(action, tenant_id)


def existing(cur, tenant_id) -> None:
    found(tenants.by_id(cur, tenant_id), "tenant", tenant_id)


def tenant_rows(tenant_id: str, action: str, read) -> list[dict]:
    """read(cur, tenant_id): the people or tokens of a tenant the caller may
    do `action` on (an unknown tenant: 404)."""
    tenant_id, _ = tenant_in_reach(tenant_id, action)
    with db.transaction() as cur:
        existing(cur, tenant_id)
        return read(cur, tenant_id)


def remove_from_tenant(tenant_id: str, item_id: str, *, what: str, action: str, remove) -> dict:
    """remove(cur, tenant_id, id, actor=...) of one person or token (`what`:
    "user", "token"; unknown: 404) of a tenant the caller may do `action` on
    (core/team.py records it in the timeline)."""
    tenant_id, who = tenant_in_reach(tenant_id, action)
    with db.transaction() as cur:
        existing(cur, tenant_id)
        row = found(remove(cur, tenant_id, path_uuid(item_id, what), actor=who.label), what, item_id)
    log_context(tenant=str(tenant_id))
    return row


# ---------------------------------------------------------------- people


@bp.post("/api/tenants/<tenant_id>/users")
@documented(Operation("Add a person to the tenant", USERS, access=OWNER, body=NewMember, answer=MemberAdded,
                      status=201, errors=(400, 401, 403, 404, 409),
                      description="A new account gets the password given (at least 12 characters). An e-mail "
                                  "that has an account already (a person in several tenants) keeps its own "
                                  "password: the one given is ignored, and new_account is false."))
def add_user(tenant_id):
    tenant_id, who = tenant_in_reach(tenant_id, "users.manage")
    body = parse_body(NewMember, what="a user field")
    password = body.password.get_secret_value() if body.password is not None else None
    with db.transaction() as cur:
        existing(cur, tenant_id)
        member, created = team.add_person(cur, tenant_id, body.email, password, body.role, actor=who.label)
    log_context(tenant=str(tenant_id))
    return jsonify({**shaped(member, MEMBER), "new_account": created}), 201


@bp.get("/api/tenants/<tenant_id>/users")
@documented(Operation("List the tenant's people", USERS, access=OWNER, answer=MemberList, errors=(401, 403, 404)))
def list_users(tenant_id):
    rows = tenant_rows(tenant_id, "users.manage", memberships.members)
    return jsonify({"users": [shaped(r, MEMBER) for r in rows]})


@bp.delete("/api/tenants/<tenant_id>/users/<user_id>")
@documented(Operation("Remove a person from the tenant", USERS, access=OWNER, answer=Member,
                      errors=(401, 403, 404, 409),
                      description="Their console sessions end at once; an account left in no tenant is deleted. "
                                  "The last owner cannot be removed (409)."))
def remove_user(tenant_id, user_id):
    member = remove_from_tenant(tenant_id, user_id, what="user", action="users.manage", remove=team.remove_person)
    return jsonify(shaped(member, MEMBER))


# ---------------------------------------------------------------- API tokens


@bp.post("/api/tenants/<tenant_id>/tokens")
@documented(Operation("Make an API token", TOKENS, access=OWNER, body=NewToken, answer=ApiTokenCreated, status=201,
                      errors=(400, 401, 403, 404, 409),
                      description="The token is in the answer this once (only its sha256 is kept). It reaches "
                                  "this tenant only, with the role given."))
def create_token(tenant_id):
    tenant_id, who = tenant_in_reach(tenant_id, "tokens.manage")
    body = parse_body(NewToken, what="a token field")
    with db.transaction() as cur:
        existing(cur, tenant_id)
        row, token = team.make_token(cur, tenant_id, body.name, body.role, actor=who.label)
    log_context(tenant=str(tenant_id))
    return jsonify({**shaped(row, TOKEN), "token": token}), 201


@bp.get("/api/tenants/<tenant_id>/tokens")
@documented(Operation("List the tenant's API tokens", TOKENS, access=OWNER, answer=ApiTokenList,
                      errors=(401, 403, 404), description="Never the tokens themselves: names, roles, prefixes, "
                                                          "when each was last used, and revoked ones."))
def list_tokens(tenant_id):
    rows = tenant_rows(tenant_id, "tokens.manage", api_tokens.of_tenant)
    return jsonify({"tokens": [shaped(r, TOKEN) for r in rows]})


@bp.delete("/api/tenants/<tenant_id>/tokens/<token_id>")
@documented(Operation("Revoke an API token", TOKENS, access=OWNER, answer=ApiToken, errors=(401, 403, 404),
                      description="Refused from this moment on, by every worker (no cache)."))
def revoke_token(tenant_id, token_id):
    row = remove_from_tenant(tenant_id, token_id, what="token", action="tokens.manage", remove=team.revoke_token)
    return jsonify(shaped(row, TOKEN))
