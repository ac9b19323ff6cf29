"""Hostile admin API requests — query parameters, ids in the path, JSON
bodies — never get a 5xx, and every refusal has the one error shape
{"error": {"code", "message", "field"?}}. A hypothesis property over the
strategies in testkit/fuzz_admin.py (derandomized: the same cases each run)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from python_services.llm.app import create_app as create_llm_app
from testkit.fuzz_admin import admin_bodies, admin_queries
from tests.conftest import ADMIN_TOKEN, SERVICE_TOKEN
from tests.rows import rows

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}", "X-Service-Token": SERVICE_TOKEN}


@pytest.fixture
def send(app, service_config, tenant, customer_says, db_conn):
    """send(case) -> the response, the case's {tenant}/{session}/{token} filled
    with ids that exist; /api/usage goes to the llm service."""
    token = customer_says("quero saber do pedido")
    [session] = rows(db_conn, "SELECT id FROM sessions WHERE tenant_id = %s", tenant["id"])
    ids = {"{tenant}": str(tenant["id"]), "{session}": str(session["id"]), "{token}": str(token)}
    collision, llm = app.test_client(), create_llm_app(service_config).test_client()

    def fill(text):
        for placeholder, value in ids.items():
            text = text.replace(placeholder, value)
        return text

    def one(case):
        client = llm if case.path.startswith("/api/usage") else collision
        query = fill(case.query.decode())  # percent-encoded ASCII
        extra = {} if case.body is None else {"data": case.body, "content_type": "application/json"}
        return client.open(fill(case.path), method=case.method, query_string=query, headers=HEADERS, **extra)

    return one


def assert_answered(resp, case):
    assert resp.status_code < 500, (resp.status_code, resp.get_data(as_text=True)[:300], case)
    body = resp.get_json(silent=True)
    assert isinstance(body, dict), (resp.status_code, resp.get_data()[:300], case)
    if resp.status_code >= 400:
        assert set(body) == {"error"}, (body, case)
        err = body["error"]
        assert {"code", "message"} <= set(err) <= {"code", "message", "field"}, (err, case)
        assert all(isinstance(v, str) for v in err.values()) and err["code"] and err["message"], (err, case)


@FUZZ
@given(case=admin_queries())
def test_no_hostile_query_parameter_gets_a_5xx_and_every_refusal_has_the_error_shape(send, case):
    assert_answered(send(case), case)


@FUZZ
@given(case=admin_bodies())
def test_no_hostile_admin_body_gets_a_5xx_and_every_refusal_has_the_error_shape(send, case):
    assert_answered(send(case), case)
