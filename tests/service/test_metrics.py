"""GET /metrics on every service (docs/metrics.md): only with the service
token, and after one reply has gone the whole way — the webhook's decision
(collision), the reply through the fake LLM (llm), the send to a faked
Evolution that fails once (evolution) — each service shows its series, with
labels that carry no tenant, chat or phone number.

The apps run in one process here, so they share prometheus-client's default
registry and its counters run on across tests: every check is a difference
between two scrapes."""
from __future__ import annotations

import os
import signal

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from ops import procs
from ops.isolated import free_port
from ops.stack import Stack

from python_services.collision.app import create_app as create_collision
from python_services.common.db import close_pool
from python_services.console.app import create_app as create_console
from python_services.evolution.app import create_app as create_evolution
from python_services.llm import providers
from python_services.llm.app import create_app as create_llm
from python_services.sandbox.app import create_app as create_sandbox
from testkit.fake_llm import FakeLLM
from tests.conftest import ADMIN_TOKEN, SECRET_KEY, SERVICE_TOKEN, WEBHOOK_SECRET
from tests.service.collision.conftest import fresh
from tests.service.evolution.conftest import INSTANCE, NUMBER, SANDBOX_KEY, LocalServer, SandboxHandle

SERVICES = ("collision", "llm", "evolution", "console", "sandbox")


@pytest.fixture(scope="module")
def fake_llm():
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def sandbox():
    """A faked Evolution (the sandbox) as a real HTTP server, for the evolution service to send to."""
    app = create_sandbox({"api_key": SANDBOX_KEY, "instances": [INSTANCE], "webhook_attempts": 1,
                          "webhook_allowed": ("http://127.0.0.1:",), "admin_token": ""})
    server = LocalServer(app)
    yield SandboxHandle(server, app)
    server.stop()


@pytest.fixture
def apps(service_config, fake_llm, sandbox):
    """Each service's app, as its own factory makes it."""
    fake_llm.reset()
    sandbox.state.reset(instances=True)
    made = {
        "collision": create_collision(service_config),
        "llm": create_llm({**service_config, "ANTHROPIC_API_KEY": "sk-ant-test",
                           "ANTHROPIC_BASE_URL": fake_llm.anthropic_url, "LLM_PRICES": "", "llm_timeout": 5.0}),
        "evolution": create_evolution({**service_config, "EVO_RETRY_BACKOFF": "0.001", "EVO_SEND_ATTEMPTS": "3"}),
        "console": create_console({**service_config, "CONSOLE_SECRET_KEY": "console-test-key"}),
        "sandbox": create_sandbox({"api_key": SANDBOX_KEY, "service_token": SERVICE_TOKEN}),
    }
    yield made
    for app in made.values():
        close_pool(app)
    providers._clients.clear()


def scrape(app, headers=None) -> dict:
    """{(series name, frozenset of labels): value} from the app's GET /metrics."""
    resp = app.test_client().get("/metrics", headers=headers or {"X-Service-Token": SERVICE_TOKEN})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(resp.get_data(as_text=True)) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: dict, after: dict, name: str, **labels) -> float:
    return round(value(after, name, **labels) - value(before, name, **labels), 9)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("headers", [
    {}, {"X-Service-Token": "wrong"}, {"X-Service-Token": ""}, {"Authorization": f"Bearer {ADMIN_TOKEN}"},
    {"Authorization": "Bearer wrong"}, {"Authorization": SERVICE_TOKEN},
], ids=["none", "wrong token", "empty token", "admin token", "wrong bearer", "token without Bearer"])
def test_metrics_without_the_service_token_are_refused_401(apps, service, headers):
    resp = apps[service].test_client().get("/metrics", headers=headers)
    assert resp.status_code == 401
    assert "hybridflow_" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("headers", [{"X-Service-Token": SERVICE_TOKEN},
                                     {"Authorization": f"Bearer {SERVICE_TOKEN}"}], ids=["header", "bearer"])
def test_metrics_with_the_service_token_answer_prometheus_text(apps, service, headers):
    first = scrape(apps[service], headers)
    second = scrape(apps[service], headers)
    # the scrape itself is a request like any other
    assert grew(first, second, "hybridflow_http_requests_total", route="/metrics", method="GET", status="200") == 1


def test_a_reply_from_webhook_to_whatsapp_shows_in_each_services_metrics(apps, make_tenant, fake_llm, sandbox):
    tenant = make_tenant(INSTANCE, llm_provider="anthropic", llm_model="claude-haiku-4-5-20251001",
                         evo_server_url=sandbox.url, evo_api_key=SANDBOX_KEY,
                         settings={"typing": False, "debounce_seconds": 0})
    headers = {"X-Service-Token": SERVICE_TOKEN}
    before = {name: scrape(app) for name, app in apps.items()}

    webhook = apps["collision"].test_client().post(
        "/webhooks/evolution", json=fresh("01_customer_text_pn"), headers={**headers, "X-Webhook-Secret": WEBHOOK_SECRET})
    assert webhook.status_code == 200 and webhook.get_json()["decision"] == "reply"
    token = webhook.get_json()["reply_token"]
    fake_llm.enqueue({"text": "Temos sim!", "tokens_in": 1200, "tokens_out": 300})
    reply = apps["llm"].test_client().post("/reply", json={"reply_token": token}, headers=headers)
    assert reply.get_json()["outcome"] == "text"
    sandbox.knobs(fail_next_sends=1)  # Evolution fails once: the send is tried again
    send = apps["evolution"].test_client().post("/send", json={"reply_token": token, "text": "Temos sim!"},
                                                headers=headers)
    assert send.get_json()["outcome"] == "sent"
    # a route with an id in its path: counted by its rule, never by the id
    assert apps["collision"].test_client().get(
        f"/api/tenants/{tenant['id']}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    after = {name: scrape(app) for name, app in apps.items()}

    collision, llm, evolution = after["collision"], after["llm"], after["evolution"]
    assert grew(before["collision"], collision, "hybridflow_decisions_total", decision="reply") == 1
    webhook_route = {"route": "/webhooks/evolution", "method": "POST", "status": "200"}
    assert grew(before["collision"], collision, "hybridflow_http_requests_total", **webhook_route) == 1
    assert grew(before["collision"], collision, "hybridflow_http_request_duration_seconds_count", **webhook_route) == 1
    assert grew(before["collision"], collision, "hybridflow_http_requests_total", route="/api/tenants/<tenant_id>",
                method="GET", status="200") == 1

    assert grew(before["llm"], llm, "hybridflow_replies_total", outcome="text") == 1
    model = {"provider": "anthropic", "model": "claude-haiku-4-5"}  # the price-table entry, not the dated name
    assert grew(before["llm"], llm, "hybridflow_llm_tokens_total", direction="input", **model) >= 1200
    assert grew(before["llm"], llm, "hybridflow_llm_tokens_total", direction="output", **model) == 300
    # claude-haiku-4-5: 1 USD per million tokens in, 5 out
    cost = grew(before["llm"], llm, "hybridflow_llm_cost_usd_total", **model)
    input_tokens = grew(before["llm"], llm, "hybridflow_llm_tokens_total", direction="input", **model)
    assert cost == pytest.approx((input_tokens * 1 + 300 * 5) / 1_000_000)

    assert grew(before["evolution"], evolution, "hybridflow_sends_total", outcome="sent") == 1
    assert grew(before["evolution"], evolution, "hybridflow_send_retries_total", outcome="sent") == 1

    # every connection went back to its pool, and the pools say how many they hold
    assert value(collision, "hybridflow_db_pool_connections_in_use") == 0
    assert value(collision, "hybridflow_db_pool_connections_open") >= 1
    assert value(collision, "hybridflow_db_pool_connections_max") >= 1

    secrets = {str(tenant["id"]), INSTANCE, NUMBER, f"{NUMBER}@s.whatsapp.net", token, "evo_api_key", SANDBOX_KEY}
    for samples in after.values():
        for _, labels in samples:
            for label, label_value in labels:
                assert not any(s in label_value for s in secrets), (label, label_value)


def test_a_request_that_matches_no_route_is_counted_as_unmatched_not_by_its_path(apps):
    before = scrape(apps["collision"])
    assert apps["collision"].test_client().get("/no/such/5511987654321").status_code == 404
    after = scrape(apps["collision"])
    assert grew(before, after, "hybridflow_http_requests_total", route="<unmatched>", method="GET", status="404") == 1
    assert not [labels for _, labels in after if any("5511987654321" in v for _, v in labels)]


def test_a_webhook_refused_401_is_counted_but_decides_nothing(apps, make_tenant):
    make_tenant(INSTANCE)
    before = scrape(apps["collision"])
    resp = apps["collision"].test_client().post("/webhooks/evolution", json=fresh("01_customer_text_pn"),
                                                headers={"X-Service-Token": SERVICE_TOKEN,
                                                         "X-Webhook-Secret": "wrong"})
    assert resp.status_code == 401
    after = scrape(apps["collision"])
    assert grew(before, after, "hybridflow_http_requests_total", route="/webhooks/evolution", method="POST",
                status="401") == 1
    assert sum(v for (name, _), v in after.items() if name == "hybridflow_decisions_total") == sum(
        v for (name, _), v in before.items() if name == "hybridflow_decisions_total")


# ---------------------------------------------------------------- under gunicorn, as make up runs it


@pytest.fixture
def stack(tmp_path, clean_db):
    """The collision service as `make up` starts it: gunicorn, two workers."""
    st = Stack(data_dir=tmp_path, ports={"collision": free_port()}, services=("collision",),
               env={"SERVICE_TOKEN": SERVICE_TOKEN, "ADMIN_TOKEN": ADMIN_TOKEN, "HYBRIDFLOW_SECRET_KEYS": SECRET_KEY,
                    "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "2"})
    st.server_url = clean_db.rsplit("/", 1)[0] + "/postgres"
    st.app_db = clean_db.rsplit("/", 1)[1]
    yield st
    st.down()


def scrape_url(url: str) -> dict:
    resp = requests.get(url + "/metrics", headers={"X-Service-Token": SERVICE_TOKEN}, timeout=10)
    assert resp.status_code == 200, resp.text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def workers_with_gauges(folder) -> set[int]:
    return {int(f.stem.rsplit("_", 1)[1]) for f in folder.glob("gauge_livesum_*.db")}


def test_under_gunicorn_the_workers_add_up_and_a_dead_workers_gauges_go(stack):
    folder = stack.metrics_dir("collision")
    folder.mkdir(parents=True)
    (folder / "counter_1.db").write_bytes(b"an earlier run's counts")
    stack.start_services()
    url = stack.url("collision")
    assert not (folder / "counter_1.db").exists()  # emptied at start: counts begin at zero

    procs.wait_until("both workers' metrics files", lambda: len(workers_with_gauges(folder)) == 2, timeout=30)
    health = {"route": "/health", "method": "GET", "status": "200"}
    already = value(scrape_url(url), "hybridflow_http_requests_total", **health)  # the start's own checks
    for _ in range(20):
        assert requests.get(url + "/health", timeout=10).status_code == 200
    samples = scrape_url(url)
    assert value(samples, "hybridflow_http_requests_total", **health) == already + 20
    assert value(samples, "hybridflow_db_pool_connections_in_use") == 0
    assert value(samples, "hybridflow_db_pool_connections_open") >= 1

    killed = min(workers_with_gauges(folder))
    os.kill(killed, signal.SIGKILL)
    procs.wait_until("the dead worker's gauges dropped", lambda: killed not in workers_with_gauges(folder),
                     timeout=30)
    # what it counted stays counted; what it held open is no longer in the gauges
    assert value(scrape_url(url), "hybridflow_http_requests_total", **health) == already + 20
