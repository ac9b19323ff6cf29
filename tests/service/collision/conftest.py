"""Fixtures of the collision service: the app and client, a tenant, plain
transactions for calling tokens.py the way the other services do, helpers
that arrange a chat with a waiting reply, and one that races two callers."""
from __future__ import annotations

import threading
import time

import pytest

from python_services.core import ledger as tokens
from python_services.collision.app import create_app
from python_services.common.db import close_pool
from tests.conftest import WEBHOOK_SECRET

SECRET = "X-Webhook-Secret"

CHAT = "5511987654321@s.whatsapp.net"


@pytest.fixture
def app(service_config):
    app = create_app(service_config)
    yield app
    # each app opens its own pool; give the connections back to the server
    close_pool(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()




def add_message(cur, tenant_id, chat_id, wa_id, text, author="customer", token_id=None):
    session = tokens.lock_session(cur, tenant_id, chat_id)
    cur.execute(
        "INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text,"
        " sent_at, reply_token_id) VALUES (%s, %s, %s, %s, %s, 'conversation', %s, now(), %s)",
        (tenant_id, session["id"], chat_id, wa_id, author, text, token_id),
    )
    if author == "business":
        cur.execute("UPDATE sessions SET last_human_at = now() WHERE id = %s", (session["id"],))


def _customer_says(cur, tenant_id, chat_id, wa_id, text, deadline_seconds):
    session = tokens.lock_session(cur, tenant_id, chat_id)
    token = tokens.create_token(cur, session, deadline_seconds)
    add_message(cur, tenant_id, chat_id, wa_id, text, token_id=token["id"])
    return token["id"]


@pytest.fixture
def customer_says(tx, tenant):
    """customer_says("text") -> the new reply token id (as the webhook would make it)."""
    counter = iter(range(1, 10_000))

    def say(text, chat_id=CHAT, deadline_seconds=120):
        return tx(_customer_says, tenant["id"], chat_id, f"CUST{next(counter):04d}", text, deadline_seconds)

    return say


def fresh(name, seconds_ago=0, **data_changes):
    """A fixture body stamped as sent `seconds_ago` (the stored fixtures are old,
    and would be stale)."""
    from tests.fixtures import webhook

    body = webhook(name, **data_changes)
    if isinstance(body.get("data"), dict) and "messageTimestamp" in body["data"]:
        body["data"]["messageTimestamp"] = int(time.time()) - seconds_ago
    return body


@pytest.fixture
def deliver(app, service_headers):
    """deliver(body) -> the webhook's response, as n8n forwards it. Each call
    uses its own test client, so threads may deliver at once."""

    def post(body, secret=WEBHOOK_SECRET, headers=None):
        sent = {**service_headers, **({SECRET: secret} if secret is not None else {}), **(headers or {})}
        return app.test_client().post("/webhooks/evolution", json=body, headers=sent)

    return post


def at_once(*calls) -> None:
    """Runs each call in a thread of its own, all released together (a
    barrier), and returns when every one has ended."""
    barrier = threading.Barrier(len(calls))

    def released(call):
        barrier.wait()
        call()

    threads = [threading.Thread(target=released, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.fixture
def admin(app, admin_headers):
    """Calls the admin API as the platform admin: admin("GET", "/api/tenants")."""
    client = app.test_client()

    def call(method, path, **kw):
        return client.open(path, method=method, headers=admin_headers, **kw)

    return call
