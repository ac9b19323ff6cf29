"""The metrics inside a running deployment (docs/metrics.md): after a real
reply through n8n, each service's /metrics (with the service token) shows its
series, n8n serves its own, the door (Caddy) its own on a loopback port of
their own, and none of them is reachable through the door."""
from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .helpers import new_chat, wait_for

pytestmark = pytest.mark.flow

SERIES = {
    "collision": ("hybridflow_http_requests_total", "hybridflow_http_request_duration_seconds_count",
                  "hybridflow_decisions_total", "hybridflow_db_pool_connections_in_use",
                  "hybridflow_db_pool_connections_open", "hybridflow_db_pool_connections_max"),
    "llm": ("hybridflow_http_requests_total", "hybridflow_replies_total", "hybridflow_llm_tokens_total",
            "hybridflow_db_pool_connections_open"),
    "evolution": ("hybridflow_http_requests_total", "hybridflow_sends_total", "hybridflow_db_pool_connections_open"),
}


def samples_of(url: str, headers: dict | None = None) -> list:
    resp = requests.get(url + "/metrics", headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    return [s for family in text_string_to_metric_families(resp.text) for s in family.samples]


def series_of(url: str, token: str) -> set[str]:
    return {s.name for s in samples_of(url, {"X-Service-Token": token})}


def test_after_a_reply_each_service_n8n_and_the_door_show_their_metrics_inside_and_none_through_the_door(
        flow_stack, fake_llm, sandbox):
    chat = new_chat(flow_stack)
    chat.customer_says("Do you have the blue sneakers in 38?")
    chat.wait_for_bot_replies(1)
    wait_for("the echo is recorded", lambda: "bot_echo" in chat.decisions())

    token = flow_stack.env["SERVICE_TOKEN"]
    for service, expected in SERIES.items():
        url = flow_stack.url(service)
        assert requests.get(url + "/metrics", timeout=10).status_code == 401
        missing = set(expected) - series_of(url, token)
        assert not missing, f"{service} lacks {sorted(missing)}"

    n8n = requests.get(flow_stack.url("n8n") + "/metrics", timeout=10)
    assert n8n.status_code == 200 and "n8n_" in n8n.text

    # the door's own (Caddy's): the webhooks the sandbox posted through it, answered by n8n
    door_metrics = flow_stack.url("door_metrics")
    door = samples_of(door_metrics)
    assert {"caddy_http_requests_total", "caddy_http_request_duration_seconds_count",
            "caddy_reverse_proxy_upstreams_healthy"} <= {s.name for s in door}
    passed = [s for s in door if s.name == "caddy_http_request_duration_seconds_count"
              and s.labels["server"] != "metrics" and (s.labels["method"], s.labels["code"]) == ("POST", "200")]
    assert passed, "no webhook counted through the door"
    healthy = {s.labels["upstream"]: s.value for s in door if s.name == "caddy_reverse_proxy_upstreams_healthy"}
    assert all(healthy[upstream] == 1 for upstream in flow_stack.webhook_upstreams())
    # that port serves nothing else
    for path in ("/", "/webhook/evolution", "/api/tenants"):
        assert requests.get(door_metrics + path, timeout=10).status_code == 404

    for path in ("/metrics", "/api/../metrics", "/console/../metrics"):
        assert requests.get(flow_stack.url("door") + path, timeout=10).status_code == 404
