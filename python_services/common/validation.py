"""Request bodies and query parameters read through pydantic 2 models, with
HybridFlow's one error shape: a 400 {"error": {"code": "invalid",
"message", "field"}} naming the field. The messages are pydantic's, less
the input (a password or a key must never come back in an error).

Bodies are first checked for what Postgres cannot store (NUL, lone
surrogates, NaN, nesting too deep: params.check_storable, which names the
innermost field), then validated by the model."""
from __future__ import annotations

from typing import Annotated, TypeVar

from flask import request
from pydantic import BaseModel, BeforeValidator, ValidationError

from .errors import bad_request
from .params import UNSTORABLE, check_storable
from .web import json_body

M = TypeVar("M", bound=BaseModel)


def _field(loc: tuple) -> str:
    """The field a pydantic error is about, as the API names it: the
    top-level name (the models are flat; nested values are named by the
    rules that check them, e.g. settings.debounce_seconds)."""
    return str(loc[0]) if loc else "body"


def _message(field: str, err: dict, what: str) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return f"{field} is required"
    if kind == "extra_forbidden":
        return f"{field} is not {what}"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return f"{field} {msg[len(prefix):]}"
    return f"{field}: {msg}"


def validated(model: type[M], data: dict, what: str = "a known field") -> M:
    """The model, or the 400 that names the first field pydantic refused."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        field = _field(err["loc"])
        raise bad_request(_message(field, err, what), field) from None


def parse_body(model: type[M], *, optional: bool = False, what: str = "a known field") -> M:
    """The request's JSON object through the model (an optional body may be left out)."""
    body = json_body(optional=optional)
    for name, value in body.items():
        check_storable(name, value)
    return validated(model, body, what)


def parse_query(model: type[M]) -> M:
    """The query string through the model: the first value of each
    parameter, an empty one as if absent; unknown parameters are ignored."""
    data = {}
    for name in model.model_fields:
        value = request.args.get(name)
        if value not in (None, ""):
            data[name] = value
    return validated(model, data)


# ---------------------------------------------------------------- query parameter types


def _plain_digits(value):
    # ASCII digits only: "²".isdigit() is true, and int() refuses it (or 5000 digits)
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise ValueError("must be a whole number written in digits")
    return value


def _storable_text(value):
    if isinstance(value, str) and UNSTORABLE.search(value):
        raise ValueError("must not contain NUL or a lone surrogate")
    return value


Digits = Annotated[int, BeforeValidator(_plain_digits)]
Text = Annotated[str, BeforeValidator(_storable_text)]
