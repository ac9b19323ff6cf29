"""The admin API's models for chats: listing them (with who paused them and
until when), resuming them, and their timeline of events. Kept apart from
core/api_models.py, which holds what all the models share, so each file
describes one resource of the API."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from ..common.validation import Digits, Text
from .api_models import EventSource
from .jids import chat_from_text
from .payload import MAX_JID_CHARS


def _chat(value: str) -> str:
    return chat_from_text(value)


# ---------------------------------------------------------------- requests


class SessionsQuery(BaseModel):
    tenant_id: uuid.UUID | None = Field(None, description="only this tenant's chats (a tenant token: always its own)")
    paused: bool | None = Field(None, description="only paused (true) or active (false) chats")
    limit: Digits = Field(100, ge=1, le=1000)


class EventsQuery(BaseModel):
    tenant_id: uuid.UUID | None = Field(
        None, description="required with ADMIN_TOKEN; a tenant token reads its own tenant")
    chat_id: Annotated[Text, Field(max_length=MAX_JID_CHARS), AfterValidator(_chat)] | None = Field(
        None, description="one chat: its JID, or the customer's number in any common format "
                          "(+55 11 98765-4321, 5511987654321)")
    limit: Digits = Field(200, ge=1, le=1000)


# ---------------------------------------------------------------- answers (described, not validated)


class Session(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    chat_id: str
    number: str = Field(description="the digits to send to (or the JID)")
    customer_name: str
    paused: bool
    pause_reason: Literal["human_takeover", "owner_command", "customer_request", "handoff", "manual"] | None
    paused_by: str | None = Field(description="who paused it: a user, a token's name, the owner's phone, ...")
    paused_at: datetime | None
    paused_until: datetime | None = Field(description="null while paused: until resumed by hand")
    last_customer_at: datetime | None
    last_human_at: datetime | None
    last_bot_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SessionList(BaseModel):
    sessions: list[Session]


class EventMessage(BaseModel):
    type: str
    text: str | None
    edited_at: datetime | None
    deleted_at: datetime | None


class Event(BaseModel):
    id: int
    received_at: datetime
    event_type: str = Field(description="Evolution's event, or hybridflow.* for what was done through the API "
                                        "or the schedule (hybridflow.chat_paused, hybridflow.chat_resumed, ...)")
    chat_id: str | None
    wa_message_id: str | None
    from_me: bool | None
    author: Literal["customer", "business", "bot", "system"] | None
    actor: str | None = Field(description="who did it: a user, a token's name, the owner's phone, the schedule")
    decision: str
    reason: str
    reply_token_id: uuid.UUID | None
    duration_ms: float | None
    message: EventMessage | None
    sources: list[EventSource] = Field(
        default_factory=list, description="the knowledge entries the reply of this event was written from, best "
                                          "first (id null: deleted since; the title is as it was)")


class EventList(BaseModel):
    events: list[Event]


class Resumed(BaseModel):
    resumed: int
