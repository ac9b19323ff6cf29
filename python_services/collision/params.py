"""Small parsers and shapers shared by the admin routes: ids, filters, limits,
timestamps as ISO 8601."""
from __future__ import annotations

import uuid
from datetime import datetime

from flask import request

from ..common.errors import bad_request, not_found


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


def query_limit(default: int = 100, maximum: int = 1000) -> int:
    value = request.args.get("limit")
    if value in (None, ""):
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise bad_request(f"limit must be a whole number from 1 to {maximum}", "limit")
    return int(value)


def iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def shaped(row: dict, fields) -> dict:
    """The row's fields, uuids as strings and times as ISO 8601."""
    return {f: (str(row[f]) if isinstance(row[f], uuid.UUID) else iso(row[f])) for f in fields}
