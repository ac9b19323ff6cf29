"""Who may do what: the rules of access as plain data and a pure function,
for the admin API and the console alike.

A principal is whoever makes a request: the platform admin (ADMIN_TOKEN;
every tenant, every action), a tenant's API token, or a person logged in to
the console, each of the last two with a role in one tenant:

| action            | owner | agent | viewer |
| ----------------- | ----- | ----- | ------ |
| read              | yes   | yes   | yes    |
| chats.pause       | yes   | yes   |        |
| settings.change   | yes   |       |        |
| knowledge.change  | yes   |       |        |
| users.manage      | yes   |       |        |
| tokens.manage     | yes   |       |        |

`chats.pause` covers resuming too; `settings.change` covers every field of
the tenant a business may change itself (its prompt, provider, Evolution
address and key, webhook secret) except the instance name. Creating tenants,
listing every tenant, renaming an instance and the cron endpoints are the
platform admin's alone (PLATFORM_ONLY). A principal scoped to a tenant never
learns that another tenant's ids exist: they answer 404, as unknown ids do."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

ROLES = ("owner", "agent", "viewer")

RULES: dict[str, tuple[str, ...]] = {
    "read": ("owner", "agent", "viewer"),
    "chats.pause": ("owner", "agent"),
    "settings.change": ("owner",),
    "knowledge.change": ("owner",),
    "users.manage": ("owner",),
    "tokens.manage": ("owner",),
}
PLATFORM_ONLY = ("tenants.create", "tenants.rename", "cron")
ACTIONS = (*RULES, *PLATFORM_ONLY)

# in words, for a 403's message: "an agent may not <...>"
DOING = {
    "read": "read this tenant's data",
    "chats.pause": "pause or resume chats",
    "settings.change": "change the tenant's settings",
    "knowledge.change": "change the knowledge base",
    "users.manage": "manage users",
    "tokens.manage": "manage API tokens",
    "tenants.create": "create tenants",
    "tenants.rename": "change a tenant's instance_name",
    "cron": "run the schedules",
}


def allowed(role: str | None, action: str) -> bool:
    """May a principal with this role (None: the platform admin) do `action`
    in its own tenant? Unknown actions and roles are refused."""
    if action not in ACTIONS:
        return False
    if role is None:
        return True
    return role in RULES.get(action, ())


@dataclass(frozen=True)
class Principal:
    """Who makes the request. kind: "platform" | "token" | "user" | "schedule"."""
    kind: str
    tenant_id: uuid.UUID | None = None
    role: str | None = None
    # how the timeline names it: "the platform admin", "token 'crm'", "user ana@example.com"
    label: str = ""
    token_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None

    @property
    def platform(self) -> bool:
        return self.kind == "platform"

    def sees(self, tenant_id) -> bool:
        """Is this tenant within reach? (Another tenant's data answers 404.)"""
        return self.platform or (self.tenant_id is not None and str(self.tenant_id) == str(tenant_id))

    def may(self, action: str) -> bool:
        """May it do `action` in a tenant it sees?"""
        return allowed(None if self.platform else self.role, action)


PLATFORM_ADMIN = Principal(kind="platform", label="the platform admin")
SCHEDULE = Principal(kind="schedule", label="the schedule")


def token_principal(row: dict) -> Principal:
    return Principal(kind="token", tenant_id=row["tenant_id"], role=row["role"], label=f"token {row['name']!r}",
                     token_id=row["id"])


def user_principal(user: dict, tenant_id, role: str) -> Principal:
    return Principal(kind="user", tenant_id=tenant_id, role=role, label=f"user {user['email']}", user_id=user["id"])


def refusal(principal: Principal, action: str) -> str:
    """The 403's message."""
    who = principal.role or principal.kind
    article = "an" if who[0] in "aeiou" else "a"
    kind = "token" if principal.kind == "token" else principal.kind
    return f"{article} {who} {kind} may not {DOING.get(action, action)}"
