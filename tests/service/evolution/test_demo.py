"""The demo tenant that `make up` creates on the sandbox, and the page's
paused marker read from the collision admin API."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from python_services.core import ledger as tokens
from python_services.collision.app import create_app as create_collision
from python_services.sandbox.app import create_app as create_sandbox
from ops.demo import KNOWLEDGE_BASE, ensure_demo_tenant
from python_services.core import memberships
from python_services.core.accounts import check_login
from python_services.core.secrets_at_rest import Keyring
from tests.conftest import ADMIN_TOKEN, SECRET_KEY

from .conftest import CHAT, INSTANCE, NUMBER, SANDBOX_KEY, LocalServer


@pytest.fixture
def collision_server(make_app, service_config):
    server = LocalServer(make_app(create_collision, service_config))
    yield server
    server.stop()


def demo_tenants(db_conn):
    with db_conn.cursor() as cur:
        cur.execute("SELECT * FROM tenants WHERE instance_name = 'demo'")
        return cur.fetchall()


def make_demo(collision_server, sandbox, receiver, **env):
    return ensure_demo_tenant(collision_url=collision_server.url, admin_token=ADMIN_TOKEN,
                              sandbox_url=sandbox.url, webhook_url=receiver.url,
                              env={"SANDBOX_API_KEY": SANDBOX_KEY, **env})


def test_the_demo_tenant_is_created_once_and_hears_the_sandbox(collision_server, sandbox, receiver, db_conn):
    lines = make_demo(collision_server, sandbox, receiver)
    assert lines[0].split()[:3] == ["sandbox", "page", sandbox.url + "/"]
    assert "created" in lines[1] and "offline" in lines[1]
    again = make_demo(collision_server, sandbox, receiver)
    assert "already there" in again[1]

    [demo] = demo_tenants(db_conn)
    # the Evolution key is stored encrypted with the application key
    assert (demo["evo_server_url"], demo["llm_provider"]) == (sandbox.url, "offline")
    assert SANDBOX_KEY not in demo["evo_api_key"] and Keyring([SECRET_KEY]).open(demo["evo_api_key"]) == SANDBOX_KEY
    # the shop's knowledge base, made through the knowledge API, once (the second run found it there)
    assert demo["settings"]["knowledge_language"] == "english" and "knowledge_base" not in demo["settings"]
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM knowledge_entries WHERE tenant_id = %s AND source IS NULL", (demo["id"],))
        assert cur.fetchone()["n"] == len(KNOWLEDGE_BASE) >= 3
    # the customer's message reaches the webhook with the secret the tenant now has
    sandbox.post("/sandbox/customer", json={"instance": "demo", "text": "Oi"})
    [got] = receiver.wait_for(1)
    secret = got["headers"]["X-Webhook-Secret"]
    assert hashlib.sha256(secret.encode()).hexdigest() == demo_tenants(db_conn)[0]["webhook_secret_hash"]
    assert got["body"]["instance"] == "demo"


def test_the_demo_tenant_gets_an_owner_who_can_log_in(collision_server, sandbox, receiver, tx):
    password = "generated-demo-owner-password"
    lines = make_demo(collision_server, sandbox, receiver, DEMO_OWNER_PASSWORD=password)
    assert lines[2].split()[:4] == ["demo", "owner", "login", "owner@sandbox-sneakers.example"]
    assert "DEMO_OWNER_PASSWORD in .env" in lines[2] and "created" in lines[2] and password not in lines[2]
    user = tx(check_login, "owner@sandbox-sneakers.example", password, "127.0.0.1")
    assert [t["role"] for t in tx(memberships.tenants_of, user["id"])] == ["owner"]
    again = make_demo(collision_server, sandbox, receiver, DEMO_OWNER_PASSWORD=password)
    assert "already there" in again[2]
    assert "NOT made" in make_demo(collision_server, sandbox, receiver)[2]


def test_the_demo_tenant_uses_a_real_provider_when_its_key_is_set(collision_server, sandbox, receiver, db_conn):
    make_demo(collision_server, sandbox, receiver, ANTHROPIC_API_KEY="sk-ant-x")
    assert demo_tenants(db_conn)[0]["llm_provider"] == "anthropic"


def test_the_demo_says_what_is_wrong_when_the_collision_service_is_down(sandbox, receiver):
    lines = ensure_demo_tenant(collision_url="http://127.0.0.1:9", admin_token="x", sandbox_url=sandbox.url,
                               webhook_url=receiver.url, env={})
    assert "NOT ready" in lines[-1]


def test_the_pages_paused_marker_comes_from_the_collision_service(collision_server, service_config, tenant,
                                                                  sandbox, db_conn):
    row = tenant()
    until = datetime.now(timezone.utc) + timedelta(minutes=5)
    with db_conn.cursor() as cur:
        tokens.pause_session(cur, row["id"], CHAT, "human_takeover", until)
    page = create_sandbox({"instances": [INSTANCE], "collision_url": collision_server.url,
                           "admin_token": ADMIN_TOKEN, "api_key": SANDBOX_KEY}).test_client()

    paused = page.get("/sandbox/session", query_string={"instance": INSTANCE, "number": NUMBER}).get_json()
    assert (paused["paused"], paused["source"], paused["reason"]) == (True, "collision", "human_takeover")
    assert paused["paused_until"]
    other = page.get("/sandbox/session", query_string={"instance": INSTANCE, "number": "5511900000000"}).get_json()
    assert (other["paused"], other["source"]) == (False, "collision")
