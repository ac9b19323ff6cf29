"""The admin API's models for who may act on a tenant: its people (members
with a role, an account made on first invitation) and its API tokens. Kept
apart from core/api_models.py, which holds what all the models share, so
each file describes one resource of the API."""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StrictStr

from ..common.params import UNSTORABLE
from .access import ROLES
from .accounts import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS

Role = Literal[ROLES]  # type: ignore[valid-type]
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not EMAIL.match(value):
        raise ValueError("must be an e-mail address")
    return value


def _name(value: str) -> str:
    value = value.strip()
    if not value or UNSTORABLE.search(value):
        raise ValueError("must be 1-100 characters")
    return value


# ---------------------------------------------------------------- requests


class NewMember(BaseModel):
    """POST /api/tenants/{id}/users."""
    model_config = ConfigDict(extra="forbid")

    email: Annotated[StrictStr, AfterValidator(_email), Field(examples=["ana@example.com"])]
    password: Annotated[SecretStr | None, Field(
        min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS,
        description=f"{MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters; required for a new account, "
                    "ignored when the e-mail already has one (its owner keeps their password)",
        json_schema_extra={"writeOnly": True})] = None
    role: Role


class NewToken(BaseModel):
    """POST /api/tenants/{id}/tokens."""
    model_config = ConfigDict(extra="forbid")

    name: Annotated[StrictStr, AfterValidator(_name), Field(max_length=100, examples=["crm"])]
    role: Role


# ---------------------------------------------------------------- answers (described, not validated)


class Member(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    added_at: datetime
    last_login_at: datetime | None
    created_at: datetime


class MemberAdded(Member):
    new_account: bool = Field(description="false: the e-mail had an account already, whose password stays")


class MemberList(BaseModel):
    users: list[Member]


class ApiToken(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    role: Role
    prefix: str = Field(description="the token's first characters, to tell tokens apart")
    created_by: str
    created_at: datetime
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None


class ApiTokenCreated(ApiToken):
    token: str = Field(description="shown this once; send it as Authorization: Bearer <token>")


class ApiTokenList(BaseModel):
    tokens: list[ApiToken]

