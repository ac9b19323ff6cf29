"""The metrics inside a running deployment (docs/metrics.md): after a real
reply through n8n, each service's /metrics (with the service token) shows its
series, n8n serves its own, and none of them is reachable through the door."""
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


def series_of(url: str, token: str) -> set[str]:
    resp = requests.get(url + "/metrics", headers={"X-Service-Token": token}, timeout=10)
    assert resp.status_code == 200, resp.text
    return {s.name for family in text_string_to_metric_families(resp.text) for s in family.samples}


def test_after_a_reply_each_service_and_n8n_show_their_metrics_inside_and_none_through_the_door(
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

    for path in ("/metrics", "/api/../metrics", "/console/../metrics"):
        assert requests.get(flow_stack.url("door") + path, timeout=10).status_code == 404
