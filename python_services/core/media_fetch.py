"""A message's media, fetched when it is needed (a voice note to transcribe,
a photo to show the model): from Evolution (`POST
/chat/getBase64FromMediaMessage/{instance}`, which downloads and decrypts
it from WhatsApp), or from the webhook's own `message.base64` when the
caller still has it (Evolution's webhook_base64 on; it is never stored).

Nothing is kept: the bytes live as long as the call that needs them. Every
failure is a MediaError with a stable kind (Evolution's, as for sends:
unauthorized, unknown_instance, timeout, ...; or too_large, bad_base64) and
a message a person can act on."""
from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass

from ..common.errors import bad_request, not_found
from . import messages, tenants
from .evolution_client import EvolutionClient, EvolutionError
from .media import label
from .payload import MAX_ID_CHARS

_DATA_URL = re.compile(r"^data:[^,;]*(;[^,]*)?;base64,", re.I)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Media:
    data: bytes
    mimetype: str
    file_name: str | None = None
    # where the bytes came from: "evolution" or "webhook"
    source: str = "evolution"


class MediaError(Exception):
    """The media could not be had: kind (for code), message (for people), and
    the HTTP status Evolution answered, if it did."""

    def __init__(self, kind: str, message: str, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


def decode(text: str, max_bytes: int) -> bytes:
    """Base64 (or a data URL) -> bytes, refusing what would exceed max_bytes
    before decoding it."""
    if not isinstance(text, str):
        raise MediaError("bad_base64", "the media is not base64 text")
    text = _SPACE.sub("", _DATA_URL.sub("", text.strip(), count=1))
    size = len(text) * 3 // 4 - text[-2:].count("=")
    if size > max_bytes:
        raise MediaError("too_large", f"the media is {size} bytes, over MEDIA_MAX_BYTES ({max_bytes})")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MediaError("bad_base64", "the media is not valid base64") from None
    if not data:
        raise MediaError("bad_base64", "the media is empty")
    return data


def check_size(media_ref: dict | None, max_bytes: int) -> None:
    """A medium whose webhook already says it is too large is not downloaded at all."""
    size = (media_ref or {}).get("bytes")
    if isinstance(size, int) and size > max_bytes:
        raise MediaError("too_large", f"the {label(media_ref)} is {size} bytes, over MEDIA_MAX_BYTES ({max_bytes})")


def fetch(tenant: dict, wa_message_id: str, media_ref: dict | None, cfg, *, inline_base64: str | None = None,
          client: EvolutionClient | None = None) -> Media:
    """The media of one of the tenant's messages, or a MediaError."""
    media_ref = media_ref or {}
    check_size(media_ref, cfg.media_max_bytes)
    mimetype = media_ref.get("mimetype") or "application/octet-stream"
    if inline_base64:
        return Media(decode(inline_base64, cfg.media_max_bytes), mimetype, media_ref.get("file_name"), "webhook")
    client = client or EvolutionClient(tenant["evo_server_url"], tenant["evo_api_key"], timeout=cfg.evo_timeout,
                                       attempts=cfg.evo_send_attempts, backoff=cfg.evo_retry_backoff)
    try:
        answer = client.get_base64_from_media_message(tenant["instance_name"], wa_message_id)
    except EvolutionError as err:
        raise MediaError(err.kind, err.message, err.status) from None
    given = answer.get("mimetype")
    file_name = answer.get("fileName") if isinstance(answer.get("fileName"), str) else None
    return Media(decode(answer["base64"], cfg.media_max_bytes),
                 given if isinstance(given, str) and given.strip() else mimetype,
                 media_ref.get("file_name") or file_name, "evolution")


# ---------------------------------------------------------------- the routes' common part


@dataclass(frozen=True)
class MediaRequest:
    """POST /media/fetch (evolution) and POST /transcribe (llm): which message."""
    tenant_id: str
    wa_message_id: str
    # the webhook's own message.base64, when the flow still has it
    inline_base64: str | None = None


def parse_request(body: dict) -> MediaRequest:
    """The body's fields, or the 400 that names the one that is wrong."""
    try:
        tenant_id = str(uuid.UUID(str(body.get("tenant_id"))))
    except ValueError:
        raise bad_request("tenant_id must be the tenant's UUID", "tenant_id") from None
    wa_id = body.get("wa_message_id")
    if not isinstance(wa_id, str) or not wa_id.strip() or len(wa_id) > MAX_ID_CHARS:
        raise bad_request(f"wa_message_id must be the message's WhatsApp id (at most {MAX_ID_CHARS} characters)",
                          "wa_message_id")
    inline = body.get("base64")
    if inline is not None and (not isinstance(inline, str) or not inline.strip()):
        raise bad_request("base64 must be the webhook's message.base64 (a non-empty string) or left out", "base64")
    return MediaRequest(tenant_id, wa_id.strip(), inline or None)


def find_message(cur, request: MediaRequest) -> tuple[dict, dict]:
    """(tenant, message) for the request; 404 when the tenant has no such
    message (another tenant's message id included: tenants never see each other's)."""
    tenant = tenants.by_id(cur, request.tenant_id)
    if tenant is None:
        raise not_found(f"no tenant {request.tenant_id}", "tenant_id")
    message = messages.media_message(cur, request.tenant_id, request.wa_message_id)
    if message is None:
        raise not_found(f"the tenant has no message {request.wa_message_id!r}", "wa_message_id")
    return tenant, message
