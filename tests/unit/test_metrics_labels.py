"""The metrics' labels stay bounded (common/metrics.py, docs/metrics.md): a
request is counted by the url rule that matched it, never by its path; an
odd method is "other"; an LLM model is its price-table entry or "other"; the
pool gauges follow the pools of the process."""
from __future__ import annotations

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from python_services.common import metrics
from python_services.common.pool import Pool
from python_services.core.prices import load_prices
from python_services.llm.usage import model_label, provider_label


def count(**labels) -> float:
    return REGISTRY.get_sample_value("hybridflow_http_requests_total", labels) or 0.0


@pytest.fixture
def client():
    app = Flask("labels")
    metrics.install(app)

    @app.get("/things/<int:thing_id>/notes/<note>")
    def note(thing_id, note):
        return {"thing": thing_id, "note": note}

    return app.test_client()


def test_the_route_label_is_the_url_rule_not_the_path(client):
    rule = {"route": "/things/<int:thing_id>/notes/<note>", "method": "GET", "status": "200"}
    before = count(**rule)
    for n in range(3):
        assert client.get(f"/things/{n}/notes/5511987654321").status_code == 200
    assert count(**rule) - before == 3
    assert count(route="/things/1/notes/5511987654321", method="GET", status="200") == 0


def test_a_path_no_rule_matches_is_counted_as_unmatched(client):
    before = count(route="<unmatched>", method="GET", status="404")
    assert client.get("/whatever/5511987654321").status_code == 404
    assert count(route="<unmatched>", method="GET", status="404") - before == 1


def test_a_method_outside_the_usual_ones_is_counted_as_other(client):
    before = count(route="<unmatched>", method="other", status="405")
    client.open("/things/1/notes/a", method="BREW")
    client.open("/things/1/notes/a", method="PROPFIND")
    assert count(route="<unmatched>", method="other", status="405") - before == 2


PRICES = load_prices('{"llama3.1:8b": {"input": 0, "output": 0}}')


@pytest.mark.parametrize("model, label", [
    ("claude-haiku-4-5", "claude-haiku-4-5"),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("llama3.1:8b", "llama3.1:8b"),  # added by LLM_PRICES
    ("my-own-finetune-of-tenant-42", "other"),
    ("", "other"),
    (None, "other"),
])
def test_a_model_is_labelled_by_its_price_table_entry_or_other(model, label):
    assert model_label(model, PRICES) == label


@pytest.mark.parametrize("provider, label", [("anthropic", "anthropic"), ("offline", "offline"),
                                             ("hybridflow", "other"), (None, "other")])
def test_a_provider_outside_the_known_ones_is_other(provider, label):
    assert provider_label(provider) == label


class FakeConnection:
    closed = False

    def close(self):
        self.closed = True


def gauge(name: str) -> float:
    return REGISTRY.get_sample_value(name)


def test_the_pool_gauges_follow_connections_handed_out_and_given_back(client):
    # client: an app installed the metrics, and with them the pools' watcher
    pool = Pool(0, 4, 0.1, connect=FakeConnection)
    in_use, open_ = gauge("hybridflow_db_pool_connections_in_use"), gauge("hybridflow_db_pool_connections_open")
    first, second = pool.getconn(), pool.getconn()
    assert gauge("hybridflow_db_pool_connections_in_use") - in_use == 2
    assert gauge("hybridflow_db_pool_connections_open") - open_ == 2
    pool.putconn(first, close=True)
    pool.putconn(second, close=True)
    assert gauge("hybridflow_db_pool_connections_in_use") == in_use
    pool.closeall()
    assert gauge("hybridflow_db_pool_connections_open") == open_
