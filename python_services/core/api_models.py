"""The admin API's requests and answers as pydantic 2 models: the request
models validate (common/validation.py turns a refusal into the 400 that
names the field), and all of them describe the API in GET /api/openapi.json.
The admin API spans two services behind one door (/api/usage is the llm
service's), so its models live here, in core.

Settings are one JSON object whose keys are checked by the rules in
core/settings.py (the console uses the same rules); here they are described
(settings_schema) and only checked to be an object.

This module holds what the models share (the error, the field types), the
tenants, their connection, the knowledge base and the llm service's usage;
the chats and their timeline are in core/api_models_chats.py, the people and
tokens of a tenant in core/api_models_people.py."""
from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from ..common.openapi import Operation
from ..common.validation import Digits, Text
from .knowledge_import import MAX_CONTENT, MAX_SOURCE, MAX_TAG, MAX_TAGS, MAX_TITLE
from .settings import PROVIDERS, settings_schema
from .tenants import INSTANCE_NAME, valid_instance_name

Provider = Literal[PROVIDERS]  # type: ignore[valid-type]


def _instance_name(value: str) -> str:
    if not valid_instance_name(value):
        raise ValueError("must be 1-100 letters, digits or _.@- (starting with a letter or digit), "
                         "exactly as the Evolution instance is named")
    return value


def _server_url(value: str) -> str:
    if len(value) > 500 or (value and not re.match(r"^https?://[^\s/]+", value)):
        raise ValueError("must be an http(s) URL such as https://evo.example.com")
    return value.rstrip("/")


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


InstanceName = Annotated[StrictStr, AfterValidator(_instance_name),
                         Field(json_schema_extra={"pattern": INSTANCE_NAME.pattern},
                               description="the Evolution instance's name; selects the tenant of a webhook")]
ServerUrl = Annotated[StrictStr, AfterValidator(_server_url),
                      Field(description="the Evolution server, e.g. https://evo.example.com", examples=[
                          "https://evo.example.com"])]
Settings = Annotated[dict[str, Any], Field(json_schema_extra=settings_schema())]


def _text(max_len: int, description: str = ""):
    return Annotated[StrictStr, Field(max_length=max_len, description=description or None)]


# ---------------------------------------------------------------- requests


class TenantChanges(BaseModel):
    """PATCH /api/tenants/{id}: only the fields given change."""
    model_config = ConfigDict(extra="forbid")

    instance_name: InstanceName = None
    business_name: _text(200) = None
    evo_server_url: ServerUrl = None
    evo_api_key: _text(500, "the instance's Evolution API key (stored encrypted; shown masked)") = None
    system_prompt: _text(20000, "the prompt; {business_name} is filled in") = None
    llm_provider: Provider = None
    llm_model: _text(200, "empty: the provider's default model") = None
    settings: Settings = None


class NewTenant(TenantChanges):
    """POST /api/tenants."""
    instance_name: InstanceName


class ConnectOptions(BaseModel):
    """POST /api/tenants/{id}/connect: where Evolution should post the
    instance's webhooks, and with which secret (none: a new one is made)."""
    model_config = ConfigDict(extra="ignore")

    webhook_url: Annotated[StrictStr, AfterValidator(_http_url)] | None = None
    webhook_secret: Annotated[StrictStr, Field(min_length=1)] | None = None


class UsageQuery(BaseModel):
    tenant_id: uuid.UUID | None = Field(None, description="only this tenant (a tenant token: always its own)")
    days: Digits = Field(7, ge=1, le=366)


# ---------------------------------------------------------------- answers (described, not validated)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class Error(BaseModel):
    error: ErrorDetail


class Tenant(BaseModel):
    id: uuid.UUID
    instance_name: str
    business_name: str
    evo_server_url: str
    evo_api_key: str = Field(description="masked: ****1234")
    system_prompt: str
    llm_provider: Provider
    llm_model: str
    settings: dict[str, Any] = Field(description="what the tenant changed (secrets masked)")
    effective_settings: dict[str, Any] = Field(description="the defaults with the tenant's own on top")
    retention: dict[str, Any]
    webhook_secret_rotated_at: datetime | None
    previous_webhook_secret_accepted_until: datetime | None
    created_at: datetime
    updated_at: datetime


class TenantCreated(Tenant):
    webhook_secret: str = Field(description="shown this once: give it to Evolution as X-Webhook-Secret")


class TenantList(BaseModel):
    tenants: list[Tenant]


class RotatedSecret(BaseModel):
    id: uuid.UUID
    webhook_secret: str = Field(description="shown this once")
    previous_webhook_secret_accepted_until: datetime | None


class Connected(BaseModel):
    tenant_id: uuid.UUID
    instance: str
    connection_state: str | None
    connected: bool
    webhook: dict[str, Any]
    secret_rotated: bool
    webhook_secret: str | None = Field(None, description="when a new secret was made: shown this once")
    previous_webhook_secret_accepted_until: datetime | None = None
    hint: str | None = None


class EventSource(BaseModel):
    id: uuid.UUID | None
    title: str


class UsageModel(BaseModel):
    provider: str | None
    model: str | None
    replies: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None


class UsageTranscription(BaseModel):
    provider: str | None
    model: str | None
    transcriptions: int
    seconds: float
    cost_usd: float | None


class UsageDay(BaseModel):
    tenant_id: uuid.UUID
    day: date
    replies: int
    failed: int
    tokens_in: int
    tokens_out: int
    cost_usd: float | None = Field(description="null when a model of the day has no price")
    models: list[UsageModel]
    images: int = Field(0, description="photos shown to the models (their tokens are part of tokens_in)")
    image_tokens: int = Field(0, description="estimated input tokens of those photos")
    transcriptions: int = Field(0, description="voice notes transcribed (Evolution's own speechToText not counted)")
    transcription_seconds: float = Field(0, description="their length, as billed")
    transcription_models: list[UsageTranscription] = []


class Usage(BaseModel):
    tenant_id: uuid.UUID | None
    days: int
    since: date
    currency: Literal["USD"]
    usage: list[UsageDay]


# ---------------------------------------------------------------- the knowledge base


class KnowledgeEntryBody(BaseModel):
    """POST /api/tenants/{id}/knowledge and PUT .../knowledge/{entry_id} (the whole entry)."""
    model_config = ConfigDict(extra="forbid")

    title: Annotated[StrictStr, Field(max_length=MAX_TITLE, examples=["Opening hours"],
                                      description="what the entry answers: a question or a heading")]
    content: Annotated[StrictStr, Field(max_length=MAX_CONTENT, examples=[
        "Monday to Friday 9:00-19:00, Saturdays 9:00-14:00. Closed on Sundays and public holidays."])]
    tags: Annotated[list[Annotated[StrictStr, Field(max_length=MAX_TAG)]], Field(
        max_length=MAX_TAGS, description="words it should also be found by (searched like the title)")] = []


class KnowledgeQuery(BaseModel):
    q: Annotated[Text, Field(max_length=1000)] | None = Field(
        None, description="a customer's question: the entries that best match it, best first, each with its "
                          "`score` and a `passage` (the retrieval every reply uses)")
    tag: Annotated[Text, Field(max_length=MAX_TAG)] | None = Field(None, description="only entries with this tag")
    source: Annotated[Text, Field(max_length=MAX_SOURCE)] | None = Field(
        None, description="only the entries imported from this file name")
    limit: Digits = Field(100, ge=1, le=1000, description="at most 1000; with q, at most 50")
    offset: Digits = Field(0, ge=0, le=100_000)


class KnowledgeEntry(BaseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    title: str
    content: str
    tags: list[str]
    source: str | None = Field(description="the file it was imported from (importing it again replaces it); "
                                           "null: written by hand")
    position: int = Field(description="its place in its source")
    created_at: datetime
    updated_at: datetime
    updated_by: str = Field(description="who wrote it last: a user, a token's name, the platform admin")
    used: int = Field(description="replies written from it (within the tenant's retention)")
    last_used_at: datetime | None


class KnowledgeHit(KnowledgeEntry):
    score: float = Field(description="how well it matches q (only with q)")
    passage: str = Field(description="the part of its content around the words of q")


class KnowledgeList(BaseModel):
    entries: list[KnowledgeHit | KnowledgeEntry]
    total: int = Field(description="entries matching the filters (with q: the hits returned)")
    limit: int
    offset: int


class KnowledgeImported(BaseModel):
    source: str = Field(description="the file's name: importing it again replaces these entries")
    created: int
    replaced: int = Field(description="entries of the same source removed first")
    entries: list[EventSource] = Field(description="what was made, in the file's order")


# ---------------------------------------------------------------- served by the llm service

USAGE = Operation(
    "LLM usage and estimated cost per tenant and day", ("usage",),
    access="viewer, agent, owner (their tenant's only); the platform admin",
    query=UsageQuery, answer=Usage, errors=(400, 401, 404),
    description="Served by the llm service (the door sends /api/usage there). Cost is estimated from a price "
                "table (LLM_PRICES); null when a model has no price.")
