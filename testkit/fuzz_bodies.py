"""Hypothesis strategies for hostile Evolution webhook bodies: a real
customer message with a few things broken — a field of the wrong type, a
field missing, a huge string, odd unicode (NUL, lone surrogates, bidi and
combining marks), deep nesting, extra keys, or no object at all. Each case
is the raw bytes to POST (so NaN, lone surrogates and 10 000-deep nesting
can be sent: json.dumps could not always make them).

Used by `make bench` (bench/fuzz.py: through n8n and straight at the collision service)
and by tests/service/collision/test_fuzz_webhook.py."""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass

from hypothesis import strategies as st

from python_services.sandbox import payloads

# where a body can be broken (paths into the envelope)
PATHS = (
    ("instance",), ("event",), ("data",), ("data", "key"), ("data", "key", "remoteJid"),
    ("data", "key", "remoteJidAlt"), ("data", "key", "fromMe"), ("data", "key", "id"),
    ("data", "key", "participant"), ("data", "message"), ("data", "message", "conversation"),
    ("data", "message", "extendedTextMessage"), ("data", "messageTimestamp"), ("data", "pushName"),
    ("data", "messageType"), ("data", "status"), ("data", "source"), ("date_time",), ("sender",),
    ("server_url",), ("apikey",), ("destination",),
)
STRING_PATHS = tuple(p for p in PATHS if p[-1] in (
    "instance", "event", "remoteJid", "remoteJidAlt", "id", "participant", "conversation", "pushName",
    "messageType", "status", "date_time", "sender"))
DEEP = "__hf_fuzz_deep__"

ODD = ("\x00", "\ud800", "\udfff", "\u202e", "\u200b", "\ufeff", "\U0001f600", "e\u0301", "\uffff", "\x7f",
       "\u2028", "@", ":", "@s.whatsapp.net", "@g.us", "@lid", "\\", "\"", "%s", "'; DROP TABLE events; --")


@dataclass(frozen=True)
class FuzzCase:
    kind: str
    raw: bytes

    def __repr__(self) -> str:  # hypothesis prints cases; keep it short
        return f"FuzzCase({self.kind!r}, {len(self.raw)} bytes: {self.raw[:120]!r})"


def base_body(instance: str, number: str = "5511987654321", instance_id: str = "bench") -> dict:
    msg_id = payloads.customer_message_id()
    data = payloads.customer_message(number=number, text="quero saber do pedido", msg_id=msg_id,
                                     push_name="Fuzz", timestamp=int(time.time()), instance_id=instance_id)
    return payloads.envelope(event="messages.upsert", instance=instance, data=data,
                             destination="http://127.0.0.1/webhook/evolution",
                             sender="5511999990000@s.whatsapp.net", server_url="http://127.0.0.1:8090",
                             apikey="fuzz")


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
odd_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), min_size=1, max_size=60),
    st.lists(st.sampled_from(ODD), min_size=1, max_size=8).map("".join),
    st.tuples(st.sampled_from(ODD), st.text(max_size=20)).map(lambda t: t[1] + t[0] + t[1]),
)


def _parent(body, path) -> dict | None:
    """The object holding path[-1], if the path leads through objects."""
    node = body
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return None
        node = node[key]
    return node if isinstance(node, dict) else None


def _set(body, path, value):
    parent = _parent(body, path)
    if parent is not None:
        parent[path[-1]] = value


def _delete(body, path):
    parent = _parent(body, path)
    if parent is not None:
        parent.pop(path[-1], None)


@st.composite
def _mutation(draw, body: dict) -> str:
    kind = draw(st.sampled_from(("wrong_type", "missing", "huge", "unicode", "deep", "extra")))
    if kind == "wrong_type":
        _set(body, draw(st.sampled_from(PATHS)), draw(json_values))
    elif kind == "missing":
        _delete(body, draw(st.sampled_from(PATHS)))
    elif kind == "huge":
        size = draw(st.sampled_from((300, 5_000, 70_000, 1_000_000)))
        char = draw(st.sampled_from(("a", "9", "é", "\U0001f600", "@", "\x00")))
        _set(body, draw(st.sampled_from(STRING_PATHS)), char * size)
    elif kind == "unicode":
        _set(body, draw(st.sampled_from(STRING_PATHS)), draw(odd_text))
    elif kind == "deep":
        _set(body, draw(st.sampled_from(PATHS)), DEEP)
    else:
        _set(body, draw(st.sampled_from(PATHS[:3] + (("data", "key"),))) + (draw(st.text(max_size=12)),),
             draw(json_values))
    return kind


def _serialise(body, depth: int, ensure_ascii: bool) -> bytes:
    text = json.dumps(body, ensure_ascii=ensure_ascii, allow_nan=True)
    if DEEP in text:
        nested = "[" * depth + "1" + "]" * depth if depth % 2 else '{"a":' * depth + "1" + "}" * depth
        text = text.replace(json.dumps(DEEP), nested, 1)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def webhook_bodies(draw, instance: str, number: str = "5511987654321") -> FuzzCase:
    """A hostile body for the tenant `instance` (its instance name is usually kept,
    so the body gets past the tenant lookup to the parsing)."""
    shape = draw(st.sampled_from(("mutated",) * 8 + ("not_an_object", "not_json")))
    if shape == "not_an_object":
        value = draw(st.one_of(json_leaves, st.lists(json_values, max_size=3)))
        return FuzzCase(shape, json.dumps(value, allow_nan=True).encode())
    if shape == "not_json":
        return FuzzCase(shape, draw(st.one_of(
            st.binary(max_size=200), st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.just(b'{"instance": "' + instance.encode() + b'", "data": {'))))
    body = copy.deepcopy(base_body(instance, number))
    kinds = [draw(_mutation(body)) for _ in range(draw(st.integers(min_value=1, max_value=3)))]
    depth = draw(st.sampled_from((20, 200, 1500, 20000)))
    return FuzzCase("+".join(kinds), _serialise(body, depth, ensure_ascii=draw(st.booleans())))
