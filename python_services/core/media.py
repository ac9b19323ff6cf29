"""Media in a WhatsApp message, as a reference: what kind it is, its
mimetype, length, file name and caption, read from the webhook body. The
bytes stay on Evolution's server (core/media_fetch.py fetches them when a
voice note is transcribed or a photo is shown to the model); messages.media
keeps this reference, never the media itself. Pure: no database, no network.
"""
from __future__ import annotations

from .payload import MAX_ID_CHARS, whole_number

# the content key of a WhatsApp message -> the kind of media it carries
KINDS = {
    "audioMessage": "audio",
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
# what a person calls each kind (the model's burst lines, the timeline)
NAMES = {"audio": "audio", "image": "photo", "video": "video", "document": "document", "sticker": "sticker"}
MAX_MIMETYPE_CHARS = 100
MAX_FILE_NAME_CHARS = 200
MAX_CAPTION_CHARS = 4000


def _text(value, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _count(value, limit: int) -> int | None:
    number = whole_number(value)
    return number if number is not None and 0 <= number <= limit else None


def media_reference(message: dict) -> dict | None:
    """The reference for a message's media, or None for a message without
    any. `message` is the unwrapped message object of the webhook (it may
    still hold Evolution's own `base64` and `speechToText` beside the content).
    Untrusted input: a field of the wrong type or size is left out."""
    if not isinstance(message, dict):
        return None
    content_key = next((key for key in KINDS if isinstance(message.get(key), dict)), None)
    if content_key is None:
        return None
    content = message[content_key]
    kind = KINDS[content_key]
    ref = {"kind": kind, "type": content_key, "mimetype": _text(content.get("mimetype"), MAX_MIMETYPE_CHARS)}
    seconds = _count(content.get("seconds"), 24 * 3600)
    if seconds is not None and kind in ("audio", "video"):
        ref["seconds"] = seconds
    if kind == "audio":
        # ptt: recorded as a voice note (a forwarded song file is plain audio)
        ref["ptt"] = content.get("ptt") is True
    size = _count(content.get("fileLength"), 2**53)
    if size is not None:
        ref["bytes"] = size
    for side in ("width", "height"):
        value = _count(content.get(side), 100_000)
        if value is not None and kind in ("image", "video", "sticker"):
            ref[side] = value
    file_name = _text(content.get("fileName") or content.get("title"), MAX_FILE_NAME_CHARS)
    if file_name and kind == "document":
        ref["file_name"] = file_name
    caption = _text(content.get("caption"), MAX_CAPTION_CHARS)
    if caption:
        ref["caption"] = caption
    # Evolution's own transcription (its speech-to-text integration), used instead of transcribing again
    if kind == "audio" and _text(message.get("speechToText"), 1) is not None:
        ref["speech_to_text"] = True
    # the webhook carried the bytes (Evolution's webhook_base64 on): they are not stored
    if isinstance(message.get("base64"), str) and message["base64"]:
        ref["inline"] = True
    return {k: v for k, v in ref.items() if v is not None}


def kind_of(media) -> str | None:
    return media.get("kind") if isinstance(media, dict) else None


def is_voice_note(media) -> bool:
    """Audio a person said (a voice note or an audio file): what gets transcribed."""
    return kind_of(media) == "audio"


def label(media: dict) -> str:
    """How the model (and a person reading the timeline) is told what came:
    `voice note, 9 s`, `photo`, `document "prices.pdf" (application/pdf)`."""
    kind = kind_of(media) or "message"
    if kind == "audio":
        name = "voice note" if media.get("ptt", True) else "audio file"
    else:
        name = NAMES.get(kind, kind)
    if kind == "document":
        file_name = media.get("file_name") or "unnamed"
        mimetype = media.get("mimetype") or "unknown type"
        return f'{name} "{file_name}" ({mimetype})'
    if media.get("seconds"):
        return f"{name}, {media['seconds']} s"
    return name


def file_name_for(media: dict, wa_message_id: str) -> str:
    """A file name with the right extension (transcription APIs go by it)."""
    if media.get("file_name"):
        return media["file_name"]
    mimetype = (media.get("mimetype") or "").split(";")[0].strip().lower()
    extension = EXTENSIONS.get(mimetype) or (mimetype.rpartition("/")[2] or "bin")
    return f"{wa_message_id[:MAX_ID_CHARS]}.{extension}"


EXTENSIONS = {
    "audio/ogg": "ogg", "audio/opus": "ogg", "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mp4": "m4a",
    "audio/x-m4a": "m4a", "audio/aac": "aac", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav",
    "audio/webm": "webm", "audio/amr": "amr", "audio/flac": "flac",
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
}


def transcription_state(media) -> dict:
    """What became of a voice note: {} (nothing yet), or {"state": "working"
    | "done" | "fallback", ...}."""
    state = media.get("transcription") if isinstance(media, dict) else None
    return state if isinstance(state, dict) else {}

