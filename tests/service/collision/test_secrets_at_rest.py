"""Secrets out of the data: a webhook's envelope key never reaches a stored
row, and tenants' keys are stored encrypted with the application key
(HYBRIDFLOW_SECRET_KEYS), readable with it (or after a rotation with the old
key second) and with nothing else."""
from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from python_services.collision.app import create_app, seal_stored_secrets
from python_services.common import db
from python_services.common.config import ConfigError, PROJECT_ROOT
from python_services.core import ledger, secrets_at_rest, tenants
from python_services.core.secrets_at_rest import Keyring, UnreadableSecret
from python_services.evolution.app import create_app as create_evolution
from python_services.llm.app import create_app as create_llm
from tests.conftest import APP_TABLES, SECRET_KEY
from tests.rows import rows

from .conftest import CHAT, fresh

EVO_KEY = "B6D711FCDE4D4FD5936544120E713976"
LLM_KEY = "sk-tenant-own-llm-key-5678"
NEW_KEY = Fernet.generate_key().decode()
TENANT = {"instance_name": "acme-store", "evo_server_url": "https://evo.example.com", "evo_api_key": EVO_KEY,
          "settings": {"llm_api_key": LLM_KEY, "debounce_seconds": 5}}


@pytest.fixture
def apps(service_config):
    """apps(HYBRIDFLOW_SECRET_KEYS) -> a collision app started with those keys."""
    made = []

    def start(keys):
        made.append(create_app({**service_config, "HYBRIDFLOW_SECRET_KEYS": keys}))
        return made[-1]

    yield start
    for app in made:
        db.close_pool(app)


def create_tenant(app, admin_headers) -> tuple[dict, str]:
    resp = app.test_client().post("/api/tenants", json=TENANT, headers=admin_headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    return body, body.pop("webhook_secret")


def stored(db_conn) -> dict:
    return rows(db_conn, "SELECT evo_api_key, settings->>'llm_api_key' AS llm_api_key, settings, updated_at"
                         " FROM tenants")[0]


def rows_holding(db_conn, value: str) -> dict:
    """table -> how many of its rows hold `value` anywhere in their text."""
    found = {t: rows(db_conn, f"SELECT count(*) AS n FROM {t} WHERE {t}::text LIKE %s", f"%{value}%")[0]["n"]
             for t in APP_TABLES}
    return {t: n for t, n in found.items() if n}


def read_tenant(app, tenant_id) -> dict:
    with app.app_context(), db.transaction() as cur:
        return tenants.by_id(cur, tenant_id)


# ---------------------------------------------------------------- webhook bodies


def test_no_stored_row_holds_the_evolution_key_a_webhook_carried(app, admin_headers, service_headers, db_conn):
    tenant, secret = create_tenant(app, admin_headers)
    headers = {**service_headers, "X-Webhook-Secret": secret}
    bodies = [fresh("01_customer_text_pn"), fresh("05_owner_manual_reply_from_phone"),
              fresh("11_customer_edit_messages_edited"), fresh("16_connection_update"),
              fresh("01_customer_text_pn", key_id="SECOND", message={"conversation": "e o 39?"})]
    for body in bodies:
        body.update(apikey=EVO_KEY, server_url="https://evo.example.com", ApiKey=EVO_KEY, token=EVO_KEY)
        resp = app.test_client().post("/webhooks/evolution", json=body, headers=headers)
        assert resp.status_code == 200, resp.get_json()
    assert rows(db_conn, "SELECT count(*) AS n FROM messages")[0]["n"] >= 3
    assert rows(db_conn, "SELECT count(*) AS n FROM events")[0]["n"] == len(bodies)
    # not in messages, events or any other table: the tenant's own key is encrypted
    assert rows_holding(db_conn, EVO_KEY) == {}
    assert rows_holding(db_conn, LLM_KEY) == {}
    for table in ("messages", "events"):
        where = f"SELECT count(*) AS n FROM {table} t WHERE t::text LIKE %s"
        assert rows(db_conn, where, "%evo.example.com%")[0]["n"] == 0
    kept = rows(db_conn, "SELECT raw FROM messages WHERE wa_message_id = 'SECOND'")[0]["raw"]
    assert set(kept) == {"event", "instance", "data", "date_time"}
    assert kept["data"]["message"]["conversation"] == "e o 39?"


def test_migration_0007_strips_the_envelope_from_bodies_stored_before(tenant, tx, db_conn):
    legacy = {**fresh("01_customer_text_pn"), "Api-Key": "k2", "webhookToken": "k3"}

    def store_legacy(cur):
        session = ledger.lock_session(cur, tenant["id"], CHAT)
        for wa_id, raw in (("OLD1", legacy), ("OLD2", {"event": "x", "data": {}}), ("OLD3", None)):
            cur.execute("INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type,"
                        " sent_at, raw) VALUES (%s, %s, %s, %s, 'customer', 'conversation', now(), %s)",
                        (tenant["id"], session["id"], CHAT, wa_id, None if raw is None else json.dumps(raw)))

    tx(store_legacy)
    sql = (PROJECT_ROOT / "db" / "migrations" / "0007_secrets_at_rest.sql").read_text()
    for _ in range(2):  # and once more: nothing left to do
        with db_conn.cursor() as cur:
            cur.execute(sql)
    got = {r["wa_message_id"]: r["raw"] for r in rows(db_conn, "SELECT wa_message_id, raw FROM messages")}
    assert got["OLD1"] == {k: v for k, v in legacy.items()
                           if k not in ("apikey", "server_url", "sender", "destination", "Api-Key", "webhookToken")}
    assert got["OLD2"] == {"event": "x", "data": {}} and got["OLD3"] is None
    assert rows_holding(db_conn, EVO_KEY) == {}


# ---------------------------------------------------------------- tenants' keys at rest


def test_keys_at_rest_are_encrypted_and_readable_only_with_the_application_key(app, admin_headers, db_conn, apps):
    tenant, _ = create_tenant(app, admin_headers)
    row = stored(db_conn)
    assert row["evo_api_key"].startswith("fernet:") and EVO_KEY not in row["evo_api_key"]
    assert row["llm_api_key"].startswith("fernet:") and LLM_KEY not in json.dumps(row["settings"])
    assert row["settings"]["debounce_seconds"] == 5
    # the code sees plain values, the admin API masked ones
    assert read_tenant(app, tenant["id"])["evo_api_key"] == EVO_KEY
    assert read_tenant(app, tenant["id"])["settings"]["llm_api_key"] == LLM_KEY
    assert (tenant["evo_api_key"], tenant["settings"]["llm_api_key"]) == ("****3976", "****5678")
    # with the application key the stored value opens; with another key it does not
    assert Keyring([SECRET_KEY]).open(row["evo_api_key"]) == EVO_KEY
    with pytest.raises(UnreadableSecret):
        Keyring([NEW_KEY]).open(row["evo_api_key"])
    # and the collision service refuses to start with the wrong key, saying why
    with pytest.raises(UnreadableSecret, match="HYBRIDFLOW_SECRET_KEYS") as err:
        apps(NEW_KEY)
    assert "acme-store" in err.value.message and EVO_KEY not in err.value.message


def test_changing_a_tenants_keys_stores_them_encrypted_too(app, admin_headers, db_conn):
    tenant, _ = create_tenant(app, admin_headers)
    resp = app.test_client().patch(f"/api/tenants/{tenant['id']}", headers=admin_headers,
                                   json={"evo_api_key": "NEW-EVO-KEY-0000", "settings": {"typing": False}})
    assert resp.status_code == 200 and resp.get_json()["evo_api_key"] == "****0000"
    assert resp.get_json()["settings"]["llm_api_key"] == "****5678"
    assert rows_holding(db_conn, "NEW-EVO-KEY-0000") == {} and rows_holding(db_conn, LLM_KEY) == {}
    assert read_tenant(app, tenant["id"])["evo_api_key"] == "NEW-EVO-KEY-0000"
    assert read_tenant(app, tenant["id"])["settings"] == {"llm_api_key": LLM_KEY, "debounce_seconds": 5,
                                                          "typing": False}
    # a key that looks like a stored one is still just a key
    looks_sealed = Keyring([SECRET_KEY]).seal("x")
    assert app.test_client().patch(f"/api/tenants/{tenant['id']}", headers=admin_headers,
                                   json={"evo_api_key": looks_sealed}).status_code == 200
    assert app.test_client().get(f"/api/tenants/{tenant['id']}", headers=admin_headers).status_code == 200
    assert read_tenant(app, tenant["id"])["evo_api_key"] == looks_sealed


def test_after_a_rotation_old_rows_still_read_and_are_resealed_with_the_new_key(app, admin_headers, db_conn, apps):
    tenant, _ = create_tenant(app, admin_headers)
    before = stored(db_conn)
    # the new key first, the old one second: the start re-seals every key with the new one
    rotated = apps(f"{NEW_KEY},{SECRET_KEY}")
    after = stored(db_conn)
    assert after["evo_api_key"] != before["evo_api_key"] and after["llm_api_key"] != before["llm_api_key"]
    assert Keyring([NEW_KEY]).open(after["evo_api_key"]) == EVO_KEY
    assert Keyring([NEW_KEY]).open(after["llm_api_key"]) == LLM_KEY
    assert after["updated_at"] == before["updated_at"]
    assert read_tenant(rotated, tenant["id"])["evo_api_key"] == EVO_KEY
    # then the old key can go
    only_new = apps(NEW_KEY)
    assert read_tenant(only_new, tenant["id"])["settings"]["llm_api_key"] == LLM_KEY
    assert only_new.test_client().get(f"/api/tenants/{tenant['id']}", headers=admin_headers).status_code == 200


def test_rows_sealed_with_the_old_key_read_during_a_rotation_before_any_reseal(app, admin_headers, apps):
    tenant, _ = create_tenant(app, admin_headers)
    rotated = apps(f"{NEW_KEY},{SECRET_KEY}")
    with rotated.app_context(), db.transaction() as cur:
        cur.execute("UPDATE tenants SET evo_api_key = %s", (Keyring([SECRET_KEY]).seal(EVO_KEY),))
    assert read_tenant(rotated, tenant["id"])["evo_api_key"] == EVO_KEY


def test_plain_keys_stored_before_encryption_are_sealed_at_the_next_start(make_tenant, db_conn, apps):
    tenant = make_tenant(evo_api_key=EVO_KEY, settings={"llm_api_key": LLM_KEY, "typing": False})
    other = make_tenant("no-keys-store", evo_api_key="")
    before = stored(db_conn)
    assert before["evo_api_key"] == EVO_KEY
    app = apps(SECRET_KEY)
    after = rows(db_conn, "SELECT evo_api_key, settings, updated_at FROM tenants WHERE id = %s", tenant["id"])[0]
    assert after["evo_api_key"].startswith("fernet:") and after["settings"]["llm_api_key"].startswith("fernet:")
    assert after["settings"]["typing"] is False and after["updated_at"] == before["updated_at"]
    assert rows_holding(db_conn, EVO_KEY) == {} and rows_holding(db_conn, LLM_KEY) == {}
    assert read_tenant(app, tenant["id"])["evo_api_key"] == EVO_KEY
    assert read_tenant(app, other["id"])["evo_api_key"] == ""
    # once sealed, a start has nothing left to do
    assert seal_stored_secrets(app) == 0


def test_a_database_not_there_at_start_only_postpones_the_sealing(service_config):
    # the service still starts (its /health says the database is down)
    app = create_app({**service_config, "database_url": "postgresql://postgres@127.0.0.1:1/none",
                      "db_pool_timeout": 0.2})
    try:
        assert seal_stored_secrets(app) is None
        with app.app_context():
            assert isinstance(secrets_at_rest.keyring(), Keyring)
    finally:
        db.close_pool(app)


@pytest.mark.parametrize("factory", [create_app, create_llm, create_evolution], ids=["collision", "llm", "evolution"])
def test_a_service_reading_tenants_refuses_to_start_without_an_application_key(service_config, factory):
    with pytest.raises(ConfigError, match="HYBRIDFLOW_SECRET_KEYS is not set"):
        factory({**service_config, "HYBRIDFLOW_SECRET_KEYS": ""})
