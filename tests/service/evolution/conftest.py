"""Fixtures of the evolution service tests: the sandbox running as a real
local HTTP server (so the real `requests` code runs against it), a webhook
receiver standing in for n8n, the evolution app, and a tenant whose reply
tokens are made the way the collision engine makes them."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import requests
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from python_services.core import ledger as tokens
from python_services.common.db import close_pool
from python_services.evolution.app import create_app as create_evolution
from python_services.sandbox.app import create_app as create_sandbox

SANDBOX_KEY = "sandbox-test-key"
INSTANCE = "acme-store"
NUMBER = "5511987654321"
CHAT = f"{NUMBER}@s.whatsapp.net"
# recorded Evolution payloads (copied from shared/fixtures/evolution)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "evolution_api"


def fixture(name: str) -> dict:
    folder = FIXTURES if name.startswith("api_") else FIXTURES.parent / "webhooks"
    return json.loads((folder / name).read_text())


class LocalServer:
    """A WSGI app on 127.0.0.1:<free port>, in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


class SandboxHandle:
    """The running sandbox, driven over HTTP like the flow tests will."""

    def __init__(self, server: LocalServer, app):
        self.url = server.url
        self.app = app
        self.state = app.extensions["sandbox"]
        self.http = requests.Session()

    def get(self, path, **kw):
        return self.http.get(self.url + path, timeout=10, **kw)

    def post(self, path, **kw):
        return self.http.post(self.url + path, timeout=10, **kw)

    def knobs(self, **changes) -> dict:
        resp = self.post("/sandbox/knobs", json=changes)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def calls(self, kind=None) -> list[dict]:
        return self.get("/sandbox/calls", params={"kind": kind} if kind else {}).json()["calls"]

    def deliveries(self) -> list[dict]:
        return self.get("/sandbox/deliveries", params={"wait": 1}).json()["deliveries"]

    def hook(self, url, secret="s3cret", instance=INSTANCE, **webhook):
        body = {"webhook": {"enabled": True, "url": url, "headers": {"X-Webhook-Secret": secret},
                            "byEvents": False, "base64": False,
                            "events": ["MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED"], **webhook}}
        resp = self.post(f"/webhook/set/{instance}", json=body, headers={"apikey": SANDBOX_KEY})
        assert resp.status_code == 201, resp.text
        return resp.json()


@pytest.fixture(scope="session")
def sandbox_server():
    app = create_sandbox({
        "api_key": SANDBOX_KEY, "instances": [INSTANCE], "webhook_attempts": 1,
        # where these tests point webhooks: the local receiver, and the addresses the connect tests name
        "webhook_allowed": ("http://127.0.0.1:", "http://n8n.test:5678/", "https://hooks.example.com/"),
        # the page's pause marker is inferred, never asked of a collision service
        "admin_token": "",
    })
    server = LocalServer(app)
    yield SandboxHandle(server, app)
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    sandbox_server.state.deliverer.wait_idle(5)
    sandbox_server.state.reset(instances=True)
    yield sandbox_server
    sandbox_server.state.deliverer.wait_idle(5)


class Receiver:
    """Stands in for n8n's webhook: keeps every body and its headers."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 200
        self.delay = 0.0
        self.lock = threading.Lock()
        app = Flask("receiver")

        # one URL for every event, or (byEvents, as the connect call sets it) a path per event
        @app.post("/webhook/evolution")
        @app.post("/webhook/evolution/<event_path>")
        def take(event_path=None):
            if self.delay:
                time.sleep(self.delay)
            with self.lock:
                self.received.append({"headers": dict(request.headers), "body": request.get_json(),
                                      "path": request.path, "at": time.monotonic()})
            return jsonify({"ok": True}), self.status

        self.server = LocalServer(app)
        self.url = self.server.url + "/webhook/evolution"

    def reset(self):
        with self.lock:
            self.received.clear()
        self.status, self.delay = 200, 0.0

    def bodies(self, event=None) -> list[dict]:
        with self.lock:
            return [r["body"] for r in self.received if event is None or r["body"]["event"] == event]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} webhooks, got {len(self.received)}")


@pytest.fixture(scope="session")
def receiver_server():
    r = Receiver()
    yield r
    r.server.stop()


@pytest.fixture
def receiver(receiver_server):
    receiver_server.reset()
    yield receiver_server
    receiver_server.reset()


@pytest.fixture
def evolution_config(service_config):
    # retries kept, waits tiny; a short timeout keeps the timeout tests quick
    return {**service_config, "EVO_RETRY_BACKOFF": "0.001", "EVO_TIMEOUT": "3", "EVO_SEND_ATTEMPTS": "3"}


@pytest.fixture
def make_app():
    """factory(config) -> app, its database pool closed after the test (many
    apps per run must not pile up connections)."""
    apps = []

    def make(factory, config):
        apps.append(factory(config))
        return apps[-1]

    yield make
    for app in apps:
        close_pool(app)


@pytest.fixture
def evolution(make_app, evolution_config):
    return make_app(create_evolution, evolution_config).test_client()


NO_TYPING = {"typing": False}


@pytest.fixture
def tenant(make_tenant, sandbox):
    """A tenant on the sandbox, typing off unless a test says otherwise."""

    def make(settings=None, **fields):
        fields.setdefault("evo_server_url", sandbox.url)
        fields.setdefault("evo_api_key", SANDBOX_KEY)
        return make_tenant(INSTANCE if "instance_name" not in fields else fields.pop("instance_name"),
                           settings=NO_TYPING if settings is None else settings, **fields)

    return make


@pytest.fixture
def reply_token(db_conn):
    """A reply token for a chat, as the collision engine makes it for a customer's message."""

    def make(tenant_row, chat_id=CHAT):
        with db_conn.cursor() as cur:
            session = tokens.lock_session(cur, tenant_row["id"], chat_id)
            return str(tokens.create_token(cur, session, 300)["id"])

    return make
