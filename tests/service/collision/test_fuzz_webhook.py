"""Hostile webhook bodies at POST /webhooks/evolution: never a 5xx, and a
refused body stores nothing. A hypothesis property (the same strategies as
`make bench` uses) and the cases it found, kept as regression tests."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings

from testkit.fuzz_bodies import base_body, webhook_bodies
from tests.conftest import WEBHOOK_SECRET
from tests.rows import rows

from .conftest import SECRET

TABLES = ("events", "messages", "sessions", "reply_tokens", "chat_aliases", "outbound")
INSTANCE = "acme-store"


def counts(db_conn):
    return {t: rows(db_conn, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in TABLES}


def post_raw(app, service_headers, raw: bytes):
    return app.test_client().post("/webhooks/evolution", data=raw, content_type="application/json",
                                  headers={**service_headers, SECRET: WEBHOOK_SECRET})


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(case=webhook_bodies(INSTANCE))
def test_no_hostile_body_gets_a_5xx_and_a_refused_one_stores_nothing(app, service_headers, tenant, db_conn, case):
    before = counts(db_conn)
    resp = post_raw(app, service_headers, case.raw)
    assert resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300], case)
    if resp.status_code != 200:
        assert counts(db_conn) == before, case
        assert resp.get_json()["error"]["code"], case


# ---- what the fuzzer found (each was a 500) ---------------------------------------------


def body_with(**data_changes) -> dict:
    body = base_body(INSTANCE)
    for path, value in data_changes.items():
        node = body["data"]
        *parents, last = path.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return body


def test_nesting_thousands_deep_is_a_400_not_a_recursion_error(app, service_headers, tenant, db_conn):
    deep = "[" * 5000 + "1" + "]" * 5000
    raw = json.dumps(body_with(pushName="__deep__")).replace('"__deep__"', deep).encode()
    resp = post_raw(app, service_headers, raw)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == "body"
    assert counts(db_conn) == dict.fromkeys(TABLES, 0)


def test_nesting_deeper_than_any_real_body_is_refused_before_the_database(app, service_headers, tenant, db_conn):
    nested = 1
    for _ in range(60):
        nested = {"a": nested}
    resp = post_raw(app, service_headers, json.dumps(body_with(extra=nested)).encode())
    assert resp.status_code == 400
    assert "nested" in resp.get_json()["error"]["message"]
    assert counts(db_conn) == dict.fromkeys(TABLES, 0)


def test_nul_characters_and_lone_surrogates_are_cleaned_out_and_the_message_kept(app, service_headers, tenant,
                                                                                   db_conn):
    body = body_with(message__conversation="oi\x00 tudo bem\ud800?", pushName="\udfffAna\x00")
    body["sender"] = "\x00"
    resp = post_raw(app, service_headers, json.dumps(body).encode())
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["decision"] == "reply"
    [msg] = rows(db_conn, "SELECT text, raw FROM messages")
    assert msg["text"] == "oi tudo bem\ufffd?"
    assert msg["raw"]["data"]["pushName"] == "\ufffdAna"


def test_a_nul_in_the_instance_name_is_dropped_before_the_lookup_not_sent_to_postgres(app, service_headers, tenant,
                                                                                       db_conn):
    unknown = post_raw(app, service_headers, json.dumps(base_body("other\x00-store")).encode())
    assert unknown.status_code == 401
    assert counts(db_conn) == dict.fromkeys(TABLES, 0)
    # the tenant's own name with a NUL in it is that tenant (its secret still decides)
    assert post_raw(app, service_headers, json.dumps(base_body(INSTANCE + "\x00")).encode()).status_code == 200


def test_nan_and_infinity_are_stored_as_null(app, service_headers, tenant, db_conn):
    raw = json.dumps(body_with(messageTimestamp=float("nan"), extra=float("inf"))).encode()
    assert b"NaN" in raw
    resp = post_raw(app, service_headers, raw)
    assert resp.status_code == 200, resp.get_json()
    [msg] = rows(db_conn, "SELECT raw FROM messages")
    assert msg["raw"]["data"]["extra"] is None


def test_an_object_where_a_text_part_belongs_is_no_text_not_a_crash(app, service_headers, tenant, db_conn):
    body = body_with(message={"extendedTextMessage": ["not", "an", "object"], "imageMessage": "nor this"})
    resp = post_raw(app, service_headers, json.dumps(body).encode())
    assert resp.status_code == 200, resp.get_json()


def test_ids_and_jids_too_long_for_an_index_are_refused_or_not_taken_for_a_chat(app, service_headers, tenant,
                                                                                 db_conn):
    huge_id = post_raw(app, service_headers, json.dumps(body_with(key__id="A" * 70_000)).encode())
    assert huge_id.status_code == 400
    assert huge_id.get_json()["error"]["field"] == "data.key.id"
    huge_jid = post_raw(app, service_headers, json.dumps(body_with(key__remoteJid="5" * 70_000 + "@s.whatsapp.net",
                                                                   key__remoteJidAlt="x")).encode())
    assert huge_jid.status_code == 400
    assert huge_jid.get_json()["error"]["field"] == "data.key.remoteJid"
    assert counts(db_conn) == dict.fromkeys(TABLES, 0)


def test_a_receipt_with_a_huge_status_is_recorded_under_a_hashed_key(app, service_headers, tenant, db_conn):
    body = base_body(INSTANCE)
    body["event"] = "messages.update"
    body["data"] = {"keyId": "3EB0ABC", "remoteJid": "5511987654321@s.whatsapp.net", "status": "R" * 20_000}
    for _ in range(2):
        assert post_raw(app, service_headers, json.dumps(body).encode()).status_code == 200
    keys = [r["dedupe_key"] for r in rows(db_conn, "SELECT dedupe_key FROM events ORDER BY id")]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith("sha256:")
    assert [r["decision"] for r in rows(db_conn, "SELECT decision FROM events ORDER BY id")][1] == "duplicate"
