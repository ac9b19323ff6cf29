"""Who sent a webhook is settled before its body is cleaned or read: an
unknown instance and a wrong secret get the same 401 whatever the body holds,
and a body past MAX_CONTENT_LENGTH is a 413 before anything reads it. Nothing
is stored for any of them."""
from __future__ import annotations

import json

import pytest

from python_services.collision import webhooks
from python_services.collision.app import MAX_BODY_BYTES
from testkit.fuzz_bodies import base_body
from tests.conftest import WEBHOOK_SECRET
from tests.rows import rows

from .conftest import SECRET

TABLES = ("events", "messages", "sessions", "reply_tokens", "chat_aliases", "outbound")
INSTANCE = "acme-store"


def counts(db_conn):
    return {t: rows(db_conn, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in TABLES}


def post_raw(app, service_headers, raw: bytes, secret=WEBHOOK_SECRET):
    headers = {**service_headers, **({SECRET: secret} if secret is not None else {})}
    return app.test_client().post("/webhooks/evolution", data=raw, content_type="application/json", headers=headers)


def nested(depth: int) -> dict:
    value: dict = {"end": True}
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize("instance, secret", [
    (INSTANCE, "guess"), (INSTANCE, None), ("no-such-store", WEBHOOK_SECRET), ("no-such-store", None),
    ("x" * 500, WEBHOOK_SECRET), ("other\udfff", WEBHOOK_SECRET),
])
def test_a_body_that_would_be_refused_as_malformed_is_first_refused_as_unauthorised(
        app, service_headers, tenant, db_conn, instance, secret):
    body = {**base_body(instance), "deep": nested(100), "text": "nul\x00 and a lone \ud800"}
    resp = post_raw(app, service_headers, json.dumps(body).encode(), secret=secret)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == {"code": "unauthorized", "message": f"missing or wrong {SECRET} header",
                                        "field": SECRET}
    assert counts(db_conn) == dict.fromkeys(TABLES, 0)


def test_with_the_right_secret_the_same_body_is_cleaned_and_refused_as_malformed(app, service_headers, tenant,
                                                                                 db_conn):
    body = {**base_body(INSTANCE), "deep": nested(100)}
    resp = post_raw(app, service_headers, json.dumps(body).encode())
    assert resp.status_code == 400
    assert counts(db_conn) == dict.fromkeys(TABLES, 0)


def test_an_unknown_instance_and_a_wrong_secret_are_answered_alike(app, service_headers, tenant):
    unknown = post_raw(app, service_headers, json.dumps(base_body("no-such-store")).encode())
    wrong = post_raw(app, service_headers, json.dumps(base_body(INSTANCE)).encode(), secret="guess")
    assert (unknown.status_code, unknown.get_json()) == (wrong.status_code, wrong.get_json())


def test_a_refused_body_is_never_cleaned(app, service_headers, tenant, monkeypatch):
    cleaned = []
    real = webhooks.clean_body
    monkeypatch.setattr(webhooks, "clean_body", lambda value: cleaned.append(type(value).__name__) or real(value))
    assert post_raw(app, service_headers, json.dumps(base_body(INSTANCE)).encode(), secret="guess").status_code == 401
    # the instance's name alone, never the body
    assert cleaned == ["str"]
    assert post_raw(app, service_headers, json.dumps(base_body(INSTANCE)).encode()).status_code == 200
    assert cleaned == ["str", "str", "dict"]


def test_a_body_past_the_limit_is_413_before_anything_reads_it(app, service_headers, tenant, db_conn):
    body = {**base_body(INSTANCE), "pad": "x" * MAX_BODY_BYTES}
    resp = post_raw(app, service_headers, json.dumps(body).encode())
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "request_entity_too_large"
    assert counts(db_conn) == dict.fromkeys(TABLES, 0)
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_BODY_BYTES
