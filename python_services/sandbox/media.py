"""Voice notes and photos in the sandbox: the page's phones send them (an
audio or image file, or the shipped samples) as the `audioMessage` /
`imageMessage` webhooks a real Evolution v2.3 sends, the bytes stay here,
and Evolution's `POST /chat/getBase64FromMediaMessage/{instance}` gives them
back, as HybridFlow fetches them to transcribe or to show the model."""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import secrets
import time

from flask import Blueprint, Response, abort, jsonify, send_from_directory

from ..common.errors import bad_request, not_found
from ..common.web import json_body
from . import api, evolution_api, payloads
from .evolution_api import EvolutionHttpError, received_at, sandbox

bp = Blueprint("sandbox_media", __name__)

CONTENT_KEYS = {"audio": "audioMessage", "image": "imageMessage"}
DEFAULT_MIMETYPES = {"audio": "audio/ogg; codecs=opus", "image": "image/jpeg"}
# what the page may send: a phone's voice note or photo, not a film
MAX_BYTES = 5 * 1024 * 1024
SAMPLES = ("voice-note-sample.ogg", "photo-sample.jpg")


def _bytes_obj(data: bytes) -> dict:
    # Baileys buffers arrive as {"0": n, "1": n, ...}: a few bytes stand for the whole
    return {str(i): b for i, b in enumerate(data[:4])}


def _decoded(value) -> bytes:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("base64 must be the file's bytes as base64 (or a data URL)", "base64")
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("base64 is not valid base64", "base64") from None
    if not data or len(data) > MAX_BYTES:
        raise bad_request(f"base64 must hold 1 to {MAX_BYTES} bytes", "base64")
    return data


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - a picture the sandbox cannot read is still sent, without its size
        return None, None


def media_content(kind: str, data: bytes, mimetype: str, *, seconds=None, caption=None) -> dict:
    """The audioMessage / imageMessage object, as Baileys delivers it."""
    digest = hashlib.sha256(data).digest()
    path = f"/v/t62.7117-24/{secrets.randbelow(10**8):08d}_{secrets.randbelow(10**10):010d}_n.enc"
    content = {
        "url": "https://mmg.whatsapp.net" + path + "?ccb=11-4&mms3=true", "mimetype": mimetype,
        "fileSha256": _bytes_obj(digest), "fileLength": {"low": len(data), "high": 0, "unsigned": True},
        "mediaKey": _bytes_obj(secrets.token_bytes(4)), "fileEncSha256": _bytes_obj(secrets.token_bytes(4)),
        "directPath": path, "mediaKeyTimestamp": {"low": int(time.time()), "high": 0, "unsigned": False},
    }
    if kind == "audio":
        content.update({"seconds": int(seconds or 0), "ptt": True, "waveform": _bytes_obj(secrets.token_bytes(4))})
    else:
        width, height = _image_size(data)
        content.update({k: v for k, v in (("width", width), ("height", height)) if v})
        content["jpegThumbnail"] = _bytes_obj(data)
    if caption and kind == "image":
        content["caption"] = caption
    return content


def _optional_text(body: dict, name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise bad_request(f"{name} must be a string of at most {limit} characters", name)
    return (value.strip() or None) if isinstance(value, str) else None


def _incoming(author: str):
    sb = sandbox()
    body = json_body(optional=True)
    inst, number = api._instance_of(body), api._number_of(body)
    kind = body.get("kind")
    if kind not in CONTENT_KEYS:
        raise bad_request("kind must be audio (a voice note) or image (a photo)", "kind")
    data = _decoded(body.get("base64"))
    mimetype = _optional_text(body, "mimetype", 100) or DEFAULT_MIMETYPES[kind]
    caption = _optional_text(body, "caption", 1000)
    seconds = body.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0):
        raise bad_request("seconds must be a number of seconds", "seconds")
    wait = body.get("wait", False)
    if not isinstance(wait, bool):
        raise bad_request("wait must be true or false", "wait")

    customer = author == "customer"
    msg_id = payloads.customer_message_id() if customer else payloads.phone_message_id()
    key = CONTENT_KEYS[kind]
    content = media_content(kind, data, mimetype, seconds=seconds, caption=caption)
    message = {key: content}
    if inst.webhook and inst.webhook.get("webhookBase64"):
        message["base64"] = base64.b64encode(data).decode("ascii")
    hook_data = {
        "key": {"remoteJid": payloads.phone_jid(number), "remoteJidAlt": payloads.lid_for(number),
                "fromMe": not customer, "id": msg_id, "addressingMode": "pn"},
        "pushName": str(body.get("name") or "Sandbox Customer") if customer else inst.business_name,
        "status": "DELIVERY_ACK" if customer else "SERVER_ACK", "message": message, "messageType": key,
        "messageTimestamp": int(time.time()), "instanceId": inst.instance_id,
        "source": "android" if customer else "ios",
    }
    sb.add_media(msg_id, {"kind": kind, "content_key": key, "mimetype": mimetype, "data": data,
                          "caption": caption, "width": content.get("width"), "height": content.get("height")})
    shown = {"kind": kind, "mimetype": mimetype, "seconds": seconds, "url": f"/sandbox/media/{msg_id}"}
    added = sb.add_message(inst.name, number, author, caption or "", msg_id, "messages.upsert", media=shown)
    # the answer leaves the bytes out (the page has them)
    without_bytes = {**hook_data, "message": {k: v for k, v in message.items() if k != "base64"}}
    return api.delivered(sb, inst, number, hook_data, added, wait, shown=without_bytes)


@bp.post("/sandbox/customer/media")
def customer_sends_media():
    """The customer sends a voice note or a photo: {kind, base64, mimetype?, seconds?, caption?, ...}."""
    return _incoming("customer")


@bp.post("/sandbox/owner/media")
def owner_sends_media():
    """The owner sends one from the business's phone (fromMe true)."""
    return _incoming("owner")


@bp.get("/sandbox/media/<msg_id>")
def media_file(msg_id):
    """A sent medium's bytes, for the page to play or show."""
    record = sandbox().media_of(msg_id)
    if record is None:
        raise not_found(f"no media for message {msg_id!r}", "msg_id")
    return Response(record["data"], mimetype=record["mimetype"].split(";")[0],
                    headers={"Cache-Control": "private, max-age=3600"})


@bp.get("/sandbox/samples/<name>")
def sample(name):
    """The shipped samples: a 4 s voice note (Ogg Opus, as WhatsApp records them) and a product photo."""
    if name not in SAMPLES:
        abort(404)
    return send_from_directory(api.STATIC_DIR, name)


@bp.post("/chat/getBase64FromMediaMessage/<instance>")
def get_base64_from_media_message(instance):
    """Evolution's answer: {mediaType, fileName, caption, size, mimetype, base64}
    (201), or 400 "Message not found" for an id it has no media for."""
    sb = sandbox()
    inst = evolution_api._instance(instance, "getBase64FromMediaMessage")
    body = evolution_api._body()
    message = body.get("message")
    key = message.get("key") if isinstance(message, dict) else None
    msg_id = key.get("id") if isinstance(key, dict) else None
    record = sb.media_of(msg_id) if isinstance(msg_id, str) else None
    if record is None:
        sb.record_call("getBase64FromMediaMessage", inst.name, body, 400, received_at())
        raise EvolutionHttpError(400, ["Error: Message not found"])
    sb.record_call("getBase64FromMediaMessage", inst.name, body, 201, received_at(), message_id=msg_id)
    size = {"fileLength": str(len(record["data"]))}
    size.update({k: record[k] for k in ("height", "width") if record.get(k)})
    return jsonify({"mediaType": record["content_key"], "fileName": None, "caption": record["caption"],
                    "size": size, "mimetype": record["mimetype"],
                    "base64": base64.b64encode(record["data"]).decode("ascii")}), 201
