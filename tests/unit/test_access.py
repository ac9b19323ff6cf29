"""The rules of access (core/access.py) as a table: each role may do exactly
what it should in its own tenant, the platform admin everything."""
from __future__ import annotations

import uuid

import pytest

from python_services.core.access import ACTIONS, PLATFORM_ADMIN, Principal, allowed, refusal

EXPECTED = {
    # action: the roles that may
    "read": {"owner", "agent", "viewer"},
    "chats.pause": {"owner", "agent"},
    "settings.change": {"owner"},
    "knowledge.change": {"owner"},
    "users.manage": {"owner"},
    "tokens.manage": {"owner"},
    "tenants.create": set(),
    "tenants.rename": set(),
    "cron": set(),
}


def test_the_table_covers_every_action():
    assert set(EXPECTED) == set(ACTIONS)


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", ["owner", "agent", "viewer"])
def test_each_role_may_do_exactly_what_it_should(role, action):
    assert allowed(role, action) is (role in EXPECTED[action])


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_the_platform_admin_may_do_everything(action):
    assert allowed(None, action) and PLATFORM_ADMIN.may(action)


@pytest.mark.parametrize("role, action", [("admin", "read"), ("owner", "delete_everything"), ("", "read")])
def test_unknown_roles_and_actions_are_refused(role, action):
    assert not allowed(role, action)


def test_a_tenant_principal_sees_its_own_tenant_only():
    mine, other = uuid.uuid4(), uuid.uuid4()
    token = Principal(kind="token", tenant_id=mine, role="owner", label="token 'crm'")
    assert token.sees(mine) and token.sees(str(mine))
    assert not token.sees(other)
    assert PLATFORM_ADMIN.sees(other)


def test_a_refusal_says_who_may_not_do_what():
    viewer = Principal(kind="token", tenant_id=uuid.uuid4(), role="viewer", label="token 'bi'")
    assert refusal(viewer, "chats.pause") == "a viewer token may not pause or resume chats"
    agent = Principal(kind="user", tenant_id=uuid.uuid4(), role="agent", label="user a@b.co")
    assert refusal(agent, "users.manage") == "an agent user may not manage users"
