"""The demo tenant that `make up` creates on the sandbox, and the page's
paused marker read from the collision admin API."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from python_services.collision import tokens
from python_services.collision.app import create_app as create_collision
from python_services.sandbox.app import create_app as create_sandbox
from python_services.sandbox.demo import ensure_demo_tenant
from tests.conftest import ADMIN_TOKEN

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
    assert (demo["evo_server_url"], demo["evo_api_key"], demo["llm_provider"]) == (sandbox.url, SANDBOX_KEY, "offline")
    assert len(demo["settings"]["knowledge_base"]) >= 3
    # the customer's message reaches the webhook with the secret the tenant now has
    sandbox.post("/sandbox/customer", json={"instance": "demo", "text": "Oi"})
    [got] = receiver.wait_for(1)
    secret = got["headers"]["X-Webhook-Secret"]
    assert hashlib.sha256(secret.encode()).hexdigest() == demo_tenants(db_conn)[0]["webhook_secret_hash"]
    assert got["body"]["instance"] == "demo"


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
                           "admin_token": ADMIN_TOKEN}).test_client()

    paused = page.get("/sandbox/session", query_string={"instance": INSTANCE, "number": NUMBER}).get_json()
    assert (paused["paused"], paused["source"], paused["reason"]) == (True, "collision", "human_takeover")
    assert paused["paused_until"]
    other = page.get("/sandbox/session", query_string={"instance": INSTANCE, "number": "5511900000000"}).get_json()
    assert (other["paused"], other["source"]) == (False, "collision")
