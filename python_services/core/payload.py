"""Reading an untrusted JSON body: what Postgres can store, and fields read
with a 400 that names the field when they are not what Evolution sends."""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from ..common.errors import bad_request
from ..common.params import ascii_whole

# what a real body never exceeds; beyond it a body is refused (400) or the
# value is not taken for a JID, rather than reaching an index or a jsonb column
MAX_DEPTH = 40
MAX_ID_CHARS = 200
MAX_JID_CHARS = 128
MAX_KEY_CHARS = 300
# what Postgres cannot store in text or jsonb: NUL, and lone UTF-16 surrogates
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


# ---------------------------------------------------------------- storable input


def _clean_text(value: str) -> str:
    if _UNSTORABLE.search(value) is None:
        return value
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)


def _clean(value, depth: int):
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN / Infinity: Python's JSON reads them, jsonb refuses them
    if isinstance(value, (dict, list)):
        if depth >= MAX_DEPTH:
            raise bad_request(f"the body is nested more than {MAX_DEPTH} levels deep", "body", "malformed")
        if isinstance(value, dict):
            return {_clean_text(str(k)): _clean(v, depth + 1) for k, v in value.items()}
        return [_clean(v, depth + 1) for v in value]
    return value


def clean_body(body):
    """The body as Postgres can store it: NUL characters dropped, lone
    surrogates replaced by U+FFFD, NaN and Infinity as null; nested more than
    MAX_DEPTH levels: the 400 that says so. Real Evolution bodies pass unchanged."""
    return _clean(body, 0)


def dig(value, *keys):
    """value[k1][k2]... through objects only; None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# ---------------------------------------------------------------- field readers


def object_field(value, path: str) -> dict:
    if not isinstance(value, dict):
        raise bad_request(f"{path} must be a JSON object", path, "malformed")
    return value


def text_field(value, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{path} must be a non-empty string", path, "malformed")
    return value.strip()


def id_field(value, path: str) -> str:
    value = text_field(value, path)
    if len(value) > MAX_ID_CHARS:
        raise bad_request(f"{path} must be a message id (at most {MAX_ID_CHARS} characters)", path, "malformed")
    return value


def from_me_field(key: dict, path: str, default: bool | None = None) -> bool:
    value = key.get("fromMe", default)
    if not isinstance(value, bool):
        raise bad_request(f"{path} must be true or false", path, "malformed")
    return value


def whole_number(value) -> int | None:
    """A count as Evolution writes it (an int, a numeric string, or a protobuf
    Long {low, high}); None for anything else. Never raises: for optional
    fields such as a file's length."""
    if isinstance(value, dict) and isinstance(value.get("low"), int) and isinstance(value.get("high", 0), int):
        return (value.get("high", 0) << 32) + (value["low"] & 0xFFFFFFFF)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        # ASCII digits only: "²".isdigit() is true and int("²") raises
        return ascii_whole(value.strip())
    return None


def epoch_seconds(value, path: str, scale: int = 1) -> datetime | None:
    """An epoch number as Evolution writes it: int, numeric string, or a protobuf
    Long {low, high}."""
    if value is None:
        return None
    try:
        if isinstance(value, dict) and "low" in value:
            value = (int(value.get("high") or 0) << 32) + (int(value["low"]) & 0xFFFFFFFF)
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value) / scale
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise bad_request(f"{path} must be a time in epoch seconds", path, "malformed") from None
