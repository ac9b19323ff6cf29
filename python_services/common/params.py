"""Small parsers and shapers shared by the admin routes: ids, filters, limits,
timestamps as ISO 8601."""
from __future__ import annotations

import math
import re
import uuid
from datetime import datetime

from flask import request

from ..common.errors import bad_request, not_found

# what Postgres cannot store in text or jsonb: NUL, and lone UTF-16 surrogates
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# settings and admin bodies are flat; anything deeper than this is not a real one
MAX_BODY_DEPTH = 20


def check_text(field: str, value, max_len: int) -> str:
    """A string of at most max_len characters, or the 400 that names the field."""
    if not isinstance(value, str) or len(value) > max_len:
        raise bad_request(f"{field} must be a string of at most {max_len} characters", field)
    return value


def check_storable(field: str, value, depth: int = 0):
    """The value unchanged, or the 400 that names the innermost field Postgres
    could not store: text with a NUL or a lone surrogate, NaN or Infinity, or
    nesting deeper than MAX_BODY_DEPTH."""
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            raise bad_request(f"{field} contains a NUL character or a lone surrogate", field)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise bad_request(f"{field} must be a finite number", field)
    elif isinstance(value, (dict, list)):
        if depth >= MAX_BODY_DEPTH:
            raise bad_request(f"{field} is nested more than {MAX_BODY_DEPTH} levels deep", field)
        items = value.items() if isinstance(value, dict) else ((f"[{i}]", v) for i, v in enumerate(value))
        for key, item in items:
            if isinstance(value, dict) and UNSTORABLE.search(key):
                raise bad_request(f"a key of {field} contains a NUL character or a lone surrogate", field)
            check_storable(f"{field}{key}" if isinstance(value, list) else f"{field}.{key}", item, depth + 1)
    return value


def found(row, what: str, ident):
    """The row, or the 404 that says which `what` does not exist."""
    if row is None:
        raise not_found(f"no {what} {ident}")
    return row


def path_uuid(value: str, what: str) -> uuid.UUID:
    """An id in the path: anything that is not a uuid cannot exist, hence 404."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise not_found(f"no {what} {value!r}") from None


def query_uuid(name: str, required: bool = False) -> uuid.UUID | None:
    value = request.args.get(name)
    if value in (None, ""):
        if required:
            raise bad_request(f"{name} is required", name)
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise bad_request(f"{name} must be a uuid", name) from None


def query_text(name: str, max_len: int) -> str | None:
    """A text filter: at most max_len characters and storable (a NUL cannot
    even be sent to Postgres), or the 400 that names it."""
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if len(value) > max_len or UNSTORABLE.search(value):
        raise bad_request(f"{name} must be at most {max_len} characters, without NUL", name)
    return value


def query_bool(name: str) -> bool | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise bad_request(f"{name} must be true or false", name)


def ascii_whole(text: str, max_digits: int = 18) -> int | None:
    """The whole number written in ASCII digits (at most max_digits), else None.
    str.isdigit() alone is not enough: "²".isdigit() is true and int() refuses
    it, and int() of 5000 digits is refused too."""
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def query_limit(default: int = 100, maximum: int = 1000) -> int:
    value = request.args.get("limit")
    if value in (None, ""):
        return default
    number = ascii_whole(value, 9)
    if number is None or not 1 <= number <= maximum:
        raise bad_request(f"limit must be a whole number from 1 to {maximum}", "limit")
    return int(value)


def iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def shaped(row: dict, fields) -> dict:
    """The row's fields, uuids as strings and times as ISO 8601."""
    return {f: (str(row[f]) if isinstance(row[f], uuid.UUID) else iso(row[f])) for f in fields}
