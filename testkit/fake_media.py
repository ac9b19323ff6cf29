"""The media side of the fake LLM server (testkit/fake_llm.py): OpenAI's
/v1/audio/transcriptions (a multipart upload, as the SDK sends it) and the
image parts of a chat request in either wire format, read and checked the
way the real APIs check them."""
from __future__ import annotations

import base64
import binascii
import hashlib
import time
from email.parser import BytesParser
from email.policy import HTTP

# what the real APIs accept as an image part's type
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# what OpenAI's transcription endpoint takes (by the file's extension)
AUDIO_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")


def parse_multipart(content_type: str, body: bytes) -> dict:
    """multipart/form-data -> {name: str | {"filename", "content_type", "data"}}."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        return {}
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            fields[name] = {"filename": filename, "content_type": part.get_content_type(), "data": data}
    return fields


def transcription_problem(fields: dict) -> str | None:
    """What OpenAI would answer 400 for, or None."""
    if not fields.get("model"):
        return "model: field required"
    upload = fields.get("file")
    if not isinstance(upload, dict) or not upload["data"]:
        return "file: an audio file is required"
    extension = upload["filename"].rpartition(".")[2].lower()
    if extension not in AUDIO_EXTENSIONS:
        return (f"Invalid file format. Supported formats: {AUDIO_EXTENSIONS}"
                .replace("(", "[").replace(")", "]"))
    return None


def transcription_record(fields: dict) -> dict:
    """What a test reads of a transcription request (the audio as its size and hash)."""
    upload = fields.get("file") if isinstance(fields.get("file"), dict) else {}
    return {
        **{k: v for k, v in fields.items() if k != "file"},
        "file": {"filename": upload.get("filename"), "content_type": upload.get("content_type"),
                 "bytes": len(upload.get("data") or b""),
                 "sha256": hashlib.sha256(upload.get("data") or b"").hexdigest()},
    }


def _decoded(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None


def _image(api: str, media_type: str | None, data: str | None) -> tuple[dict | None, str | None]:
    raw = _decoded(data) if isinstance(data, str) else None
    if raw is None:
        return None, "image: the base64 data is not valid"
    if media_type not in IMAGE_TYPES:
        return None, f"image: media_type must be one of {', '.join(IMAGE_TYPES)}"
    return {"api": api, "media_type": media_type, "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
            "data": raw}, None


def image_parts(api: str, messages: list) -> tuple[list[dict], str | None]:
    """The images of a chat request's messages (each {"api", "media_type",
    "bytes", "sha256", "data", "text"}: the text beside it in that turn), or
    the 400 the real API would answer for a malformed one."""
    found = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        texts = " ".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
        for block in content:
            if not isinstance(block, dict):
                continue
            if api == "anthropic" and block.get("type") == "image":
                source = block.get("source") or {}
                if source.get("type") != "base64":
                    return [], "image.source.type: only base64 is accepted here"
                image, problem = _image(api, source.get("media_type"), source.get("data"))
            elif api == "openai" and block.get("type") == "image_url":
                url = (block.get("image_url") or {}).get("url") or ""
                head, _, data = url.partition(",")
                if not (head.startswith("data:") and head.endswith(";base64")):
                    return [], "image_url.url: expected a data URL (data:image/...;base64,...)"
                image, problem = _image(api, head[5:-7], data)
            else:
                continue
            if problem:
                return [], problem
            found.append({**image, "role": message.get("role"), "text": texts})
    return found, None


def transcription(fake, path: str, headers: dict, content_type: str | None, body: bytes) -> tuple[dict | None, dict]:
    """(error spec, None) or (None, OpenAI's answer) for one transcription
    request, recorded on the fake (api "transcription")."""
    fields = parse_multipart(content_type or "", body)
    record = {"api": "transcription", "path": path, "headers": headers, "body": transcription_record(fields),
              "at": time.time()}
    with fake._lock:
        fake.requests.append(record)
    if not headers.get("authorization"):
        return {"status": 401, "message": "missing API key"}, {}
    problem = transcription_problem(fields)
    if problem:
        return {"status": 400, "message": problem}, {}
    spec = fake.random_error() or _queued_transcription(fake)
    delay = spec.get("delay", fake.delay)
    if delay:
        time.sleep(float(delay))
    if spec.get("status"):
        return spec, {}
    answer = {"text": spec.get("text", f"fake transcript of {record['body']['file']['filename']}")}
    if "seconds" in spec:
        answer["usage"] = {"type": "duration", "seconds": spec["seconds"]}
    return None, answer


def _queued_transcription(fake) -> dict:
    """The first queued spec meant for transcriptions (a chat spec never answers one)."""
    with fake._lock:
        for i, spec in enumerate(fake.queue):
            if spec.get("api") == "transcription":
                return fake.queue.pop(i)
    return {}
