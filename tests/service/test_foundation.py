"""The foundation: migrations, /health, the token check and the error shape."""
import pytest

from python_services.collision.app import create_app as create_collision
from python_services.common.migrate import migrate
from python_services.evolution.app import create_app as create_evolution
from python_services.llm.app import create_app as create_llm

FACTORIES = {"collision": create_collision, "llm": create_llm, "evolution": create_evolution}


def test_migrations_apply_twice_cleanly(database_url):
    # the session fixture applied them once already; a second run is a no-op
    assert migrate(database_url) == []
    assert migrate(database_url) == []


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_every_service_reports_healthy_with_a_database_check(service, service_config):
    client = FACTORIES[service](service_config).test_client()
    resp = client.get("/health")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ok"] is True
    assert body["checks"]["database"]["ok"] is True
    assert body["version"]


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_health_says_not_ok_when_the_database_is_unreachable(service, service_config):
    cfg = {**service_config, "database_url": "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1"}
    resp = FACTORIES[service](cfg).test_client().get("/health")
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["database"]["ok"] is False


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_a_request_without_the_service_token_is_refused(token, service_config):
    client = create_collision(service_config).test_client()
    headers = {} if token is None else {"X-Service-Token": token}
    resp = client.post("/webhooks/evolution", json={"instance": "x"}, headers=headers)
    assert resp.status_code == 401
    assert resp.get_json() == {"error": {
        "code": "unauthorized", "message": "missing or wrong X-Service-Token header", "field": "X-Service-Token"}}


def test_an_unset_service_token_refuses_everyone(service_config):
    client = create_collision({**service_config, "service_token": ""}).test_client()
    resp = client.post("/webhooks/evolution", json={}, headers={"X-Service-Token": ""})
    assert resp.status_code == 401


def test_errors_share_one_json_shape(service_config, service_headers):
    client = create_collision(service_config).test_client()
    not_found = client.get("/no/such/route", headers=service_headers)
    assert not_found.status_code == 404
    assert set(not_found.get_json()["error"]) >= {"code", "message"}
    bad = client.post("/webhooks/evolution", data="not json", headers=service_headers)
    assert bad.status_code == 400
    assert bad.get_json()["error"]["field"] == "body"
