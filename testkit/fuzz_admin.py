"""Hypothesis strategies for hostile admin API requests: query parameters
(tenant_id, chat_id, paused, limit, days), ids in the path, and JSON bodies
(POST/PATCH /api/tenants with settings, /api/sessions/<id>/pause|resume,
/api/tenants/<id>/users and /tokens, /tokens/recover, /tokens/<id>/fail,
/flows/errors). Each case starts from a
valid request and breaks a few things in it, so it gets past the first check
to the deeper ones (and sometimes to the database).

A case's path may hold {tenant}, {session} and {token}: the test fills in ids
that exist (or keeps a fuzzed one). The raw bytes are what is sent, so NaN,
lone surrogates and invalid UTF-8 can be. Used by
tests/service/collision/test_fuzz_admin.py."""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from urllib.parse import quote, quote_from_bytes

from hypothesis import strategies as st

from python_services.core.settings import DEFAULT_SETTINGS

from .fuzz_bodies import DEEP, json_values, odd_text

HUGE_SIZES = (201, 1_001, 5_000, 70_000)


@dataclass(frozen=True)
class AdminRequest:
    method: str
    path: str
    query: bytes = b""
    body: bytes | None = None

    def __repr__(self) -> str:  # hypothesis prints cases; keep it short
        body = "" if self.body is None else f", {len(self.body)} bytes: {self.body[:160]!r}"
        return f"AdminRequest({self.method} {self.path[:120]!r}?{self.query[:160]!r}{body})"


# ---------------------------------------------------------------- values

huge_text = st.tuples(st.sampled_from(HUGE_SIZES), st.sampled_from(("a", "9", "é", "\U0001f600", "\x00", "\ud800"))
                      ).map(lambda t: t[1] * t[0])
odd_numbers = st.sampled_from((float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 2 ** 63, -(2 ** 63),
                               2 ** 70, 10 ** 300, -1, 0, 0.5, 1e-300))
hostile_values = st.one_of(json_values, odd_text, huge_text, odd_numbers, st.just(DEEP))
# what a person might type into a filter, and what a hostile one would
number_words = st.sampled_from(("0", "1", "7", "200", "1000", "1001", "366", "367", "-1", "1.5", "1e3", "1e308", "NaN",
                                "inf", "²", "٣", "１", "0x10", " 5", "5 ", "+5", "9" * 30, "9" * 5000, "true"))


query_values = st.one_of(
    st.builds(lambda n: str(uuid.UUID(int=n)), st.integers(min_value=0, max_value=2 ** 128 - 1)),
    st.sampled_from(("true", "false", "yes", "no", "TRUE", "maybe", "", "5511987654321", "+55 11 98765-4321",
                     "5511987654321@s.whatsapp.net", "120363@g.us", "x@lid")),
    number_words, odd_text, huge_text,
)


def _encode(value: str) -> str:
    # lone surrogates go out as the bytes they would be (invalid UTF-8), as a broken client sends them
    return quote(value, safe="", encoding="utf-8", errors="surrogatepass")


@st.composite
def query_strings(draw, names: tuple[str, ...]) -> bytes:
    """Some of `names` (sometimes twice, sometimes an unknown one), each with a value
    that may be valid or hostile; now and then bytes that are not UTF-8."""
    picked = draw(st.lists(st.sampled_from(names + ("colour",)), max_size=len(names) + 2))
    parts = [f"{_encode(name)}={_encode(draw(query_values))}" for name in picked]
    query = "&".join(parts).encode()
    if names and draw(st.integers(min_value=0, max_value=9)) == 0:
        query += b"&" + draw(st.sampled_from(names)).encode() + b"=" + quote_from_bytes(
            draw(st.binary(min_size=1, max_size=20)), safe="").encode()
    return query


path_ids = st.one_of(
    st.sampled_from(("{tenant}", "{session}", "{token}")),
    st.builds(lambda n: str(uuid.UUID(int=n)), st.integers(min_value=0, max_value=2 ** 128 - 1)),
    odd_text.map(_encode), huge_text.map(_encode),
)

QUERY_ROUTES = (
    ("GET", "/api/sessions", ("tenant_id", "paused", "limit")),
    ("GET", "/api/events", ("tenant_id", "chat_id", "limit")),
    ("GET", "/api/usage", ("tenant_id", "days")),
    ("GET", "/api/tenants", ()),
    ("GET", "/api/tenants/{id}", ()),
    ("GET", "/api/sessions/{id}", ()),
    ("GET", "/api/tenants/{id}/users", ()),
    ("GET", "/api/tenants/{id}/tokens", ()),
)


@st.composite
def admin_queries(draw) -> AdminRequest:
    """A GET of the admin API with fuzzed query parameters (and ids in the path)."""
    method, path, names = draw(st.sampled_from(QUERY_ROUTES))
    if "{id}" in path:
        own = "{tenant}" if "tenants" in path else "{session}"
        path = path.replace("{id}", own if draw(st.integers(0, 2)) else draw(path_ids))
    elif "tenant_id" in names and draw(st.booleans()):
        # the tenant that exists, so the other filters reach the query
        return AdminRequest(method, path, b"tenant_id={tenant}&" + draw(query_strings(names)))
    return AdminRequest(method, path, draw(query_strings(names)))


# ---------------------------------------------------------------- bodies


def _settings_value(draw, key):
    """A valid value of the setting, or a hostile one, or a valid one with something broken inside."""
    default = copy.deepcopy(DEFAULT_SETTINGS[key])
    choice = draw(st.sampled_from(("valid", "valid", "valid", "hostile", "inside")))
    if choice == "valid":
        return default
    if choice == "hostile" or not isinstance(default, (list, dict)) or not default:
        return draw(hostile_values)
    if isinstance(default, list):
        default[draw(st.integers(0, len(default) - 1))] = draw(hostile_values)
        return default
    default[draw(st.sampled_from(sorted(default)))] = draw(hostile_values)
    return default


@st.composite
def tenant_settings(draw) -> dict:
    keys = draw(st.lists(st.sampled_from(sorted(DEFAULT_SETTINGS)), max_size=4, unique=True))
    settings = {key: _settings_value(draw, key) for key in keys}
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        settings["knowledge_base"] = [{"question": "Horário?", "answer": draw(hostile_values),
                                       draw(st.text(max_size=8)): draw(hostile_values)}]
    if draw(st.integers(min_value=0, max_value=5)) == 0:
        settings[draw(odd_text)] = draw(hostile_values)
    return settings


@st.composite
def _tenant_body(draw) -> dict:
    return {
        "instance_name": draw(st.from_regex(r"[a-z0-9][a-z0-9_.@-]{0,30}", fullmatch=True)),
        "business_name": "Loja da Ana",
        "evo_server_url": "https://evo.example.com",
        "evo_api_key": "B6D711FCDE4D4FD5936544120E713976",
        "system_prompt": "Você é a assistente da {business_name}.",
        "llm_provider": "offline",
        "llm_model": "",
        "settings": draw(tenant_settings()),
    }


# (method, path, a valid body to break)
BODY_ROUTES = {
    "create_tenant": ("POST", "/api/tenants", _tenant_body()),
    "patch_tenant": ("PATCH", "/api/tenants/{id}", _tenant_body()),
    "pause": ("POST", "/api/sessions/{id}/pause", st.just({})),
    "resume": ("POST", "/api/sessions/{id}/resume", st.just({})),
    "recover": ("POST", "/tokens/recover", st.fixed_dictionaries(
        {}, optional={"older_than_seconds": st.sampled_from((0, 30, 30.5, 86400)),
                      "max_attempts": st.integers(0, 5)})),
    "fail": ("POST", "/tokens/{id}/fail", st.just({"error": "the gateway said no"})),
    "add_user": ("POST", "/api/tenants/{id}/users", st.fixed_dictionaries({
        "email": st.sampled_from(("ana@example.com", "Bruno@Example.COM")),
        "password": st.just("a long enough password"), "role": st.sampled_from(("owner", "agent", "viewer"))})),
    "create_token": ("POST", "/api/tenants/{id}/tokens", st.fixed_dictionaries({
        "name": st.sampled_from(("crm", "bi")), "role": st.sampled_from(("owner", "agent", "viewer"))})),
    "flow_error": ("POST", "/flows/errors", st.just({
        "workflow_id": "hfInboundFlow001", "workflow_name": "HybridFlow inbound", "execution_id": "42",
        "node": "Write the reply (LLM)", "message": "ECONNREFUSED", "description": "the service is down"})),
}
OWN_ID = {"patch_tenant": "{tenant}", "pause": "{session}", "resume": "{session}", "fail": "{token}",
          "add_user": "{tenant}", "create_token": "{tenant}"}


@st.composite
def _broken(draw, body: dict) -> dict:
    """The body with one to three fields replaced, removed or added."""
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(st.sampled_from(("replace", "replace", "remove", "add")))
        if kind == "add" or not body:
            body[draw(st.one_of(st.text(max_size=12), odd_text))] = draw(hostile_values)
        elif kind == "remove":
            body.pop(draw(st.sampled_from(sorted(body))))
        else:
            body[draw(st.sampled_from(sorted(body)))] = draw(hostile_values)
    return body


def _serialise(value, depth: int) -> bytes:
    text = json.dumps(value, allow_nan=True)  # ASCII: lone surrogates as \ud800, as JSON allows
    if DEEP in text:
        nested = "[" * depth + "1" + "]" * depth if depth % 2 else '{"a":' * depth + "1" + "}" * depth
        text = text.replace(json.dumps(DEEP), nested, 1)
    return text.encode()


@st.composite
def admin_bodies(draw) -> AdminRequest:
    """A POST/PATCH of the admin API (or of the flows' own endpoints) with a broken body."""
    name = draw(st.sampled_from(sorted(BODY_ROUTES)))
    method, path, valid = BODY_ROUTES[name]
    if "{id}" in path:
        path = path.replace("{id}", OWN_ID[name] if draw(st.integers(0, 3)) else draw(path_ids))
    shape = draw(st.sampled_from(("broken",) * 6 + ("valid", "not_an_object", "not_json", "empty")))
    if shape == "not_an_object":
        return AdminRequest(method, path, body=json.dumps(draw(json_values), allow_nan=True).encode())
    if shape == "not_json":
        return AdminRequest(method, path, body=draw(st.one_of(
            st.binary(max_size=100), odd_text.map(lambda t: t.encode("utf-8", "surrogatepass")))))
    if shape == "empty":
        return AdminRequest(method, path, body=b"")
    body = copy.deepcopy(draw(valid))
    if shape == "broken":
        body = draw(_broken(body))
    return AdminRequest(method, path, body=_serialise(body, draw(st.sampled_from((5, 30, 1500)))))
