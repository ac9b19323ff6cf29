"""A tenant's team as its owners change it: people added and removed, API
tokens made and revoked, each change a row in the tenant's timeline naming
who made it. The admin API (collision/accounts.py) and the console's team
page call these inside their own transaction, after checking the caller's
role (core/access.py); the rules themselves are core/accounts.py's and the
SQL is api_tokens.py's, memberships.py's and users.py's."""
from __future__ import annotations

from ..common.errors import ApiError
from . import accounts, api_tokens, events


def add_person(cur, tenant_id, email: str, password: str | None, role: str, *, actor: str) -> tuple[dict, bool]:
    """(the member, whether their account is new): accounts.add_member, recorded."""
    member, created = accounts.add_member(cur, tenant_id, email, password, role)
    events.record_tenant_event(cur, tenant_id, "hybridflow.user_added",
                               f"{member['email']} added as {member['role']} by {actor}", actor=actor)
    return member, created


def remove_person(cur, tenant_id, user_id, *, actor: str) -> dict | None:
    """The member removed (their sessions end at once), recorded; None when
    they are not in the tenant; 409 for its last owner."""
    member = accounts.remove_member(cur, tenant_id, user_id)
    if member is not None:
        events.record_tenant_event(cur, tenant_id, "hybridflow.user_removed",
                                   f"{member['email']} ({member['role']}) removed by {actor}", actor=actor)
    return member


def make_token(cur, tenant_id, name: str, role: str, *, actor: str) -> tuple[dict, str]:
    """(the token's row, the token itself: to show this once and never again);
    409 when a live token of the tenant has that name."""
    token = api_tokens.new_token()[0]
    row = api_tokens.insert(cur, tenant_id, name, role, token, actor)
    if row is None:
        raise ApiError(409, "conflict", f"this tenant has a live token named {name!r}", "name")
    events.record_tenant_event(cur, tenant_id, "hybridflow.token_created",
                               f"token {name!r} ({role}) made by {actor}", actor=actor)
    return row, token


def revoke_token(cur, tenant_id, token_id, *, actor: str) -> dict | None:
    """The token, refused from now on (by every worker: nothing caches it),
    recorded; None when the tenant has no such token."""
    row = api_tokens.revoke(cur, tenant_id, token_id)
    if row is not None:
        events.record_tenant_event(cur, tenant_id, "hybridflow.token_revoked",
                                   f"token {row['name']!r} revoked by {actor}", actor=actor)
    return row
