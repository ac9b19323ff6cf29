"""Connecting a tenant's Evolution instance in one admin call: the instance
state is checked and the webhook set (URL, secret header, the three events)."""
from __future__ import annotations

import hashlib

import pytest

from python_services.collision.app import create_app as create_collision

from tests.conftest import WEBHOOK_SECRET as WEBHOOK_SECRET_OF_TENANT

from .conftest import INSTANCE


@pytest.fixture
def collision(make_app, service_config):
    return make_app(create_collision, {**service_config, "n8n_webhook_url": "http://n8n.test:5678/"}).test_client()


def stored_hash(db_conn, tenant_id):
    with db_conn.cursor() as cur:
        cur.execute("SELECT webhook_secret_hash FROM tenants WHERE id = %s", (tenant_id,))
        return cur.fetchone()["webhook_secret_hash"]


def connect(collision, admin_headers, tenant_id, **body):
    return collision.post(f"/api/tenants/{tenant_id}/connect", json=body, headers=admin_headers)


def test_connecting_sets_the_webhook_with_a_new_secret_returned_once(
        collision, admin_headers, sandbox, tenant, db_conn):
    row = tenant()
    resp = connect(collision, admin_headers, row["id"])

    assert resp.status_code == 200, resp.get_data(as_text=True)
    answer = resp.get_json()
    secret = answer["webhook_secret"]
    assert answer["connected"] is True and answer["connection_state"] == "open"
    assert answer["secret_rotated"] is True
    assert answer["webhook"]["url"] == "http://n8n.test:5678/webhook/evolution"
    hook = sandbox.state.instance(INSTANCE).webhook
    assert hook["url"] == "http://n8n.test:5678/webhook/evolution"
    assert hook["headers"] == {"X-Webhook-Secret": secret}
    assert hook["events"] == ["MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED"]
    assert (hook["enabled"], hook["webhookByEvents"], hook["webhookBase64"]) == (True, True, False)
    assert stored_hash(db_conn, row["id"]) == hashlib.sha256(secret.encode()).hexdigest()


def test_connecting_with_the_current_secret_keeps_it(collision, admin_headers, sandbox, tenant, db_conn):
    row = tenant()
    resp = connect(collision, admin_headers, row["id"], webhook_secret=WEBHOOK_SECRET_OF_TENANT,
                   webhook_url="https://hooks.example.com/webhook/evolution")

    assert resp.status_code == 200
    assert "webhook_secret" not in resp.get_json() and resp.get_json()["secret_rotated"] is False
    hook = sandbox.state.instance(INSTANCE).webhook
    assert hook["url"] == "https://hooks.example.com/webhook/evolution"
    assert hook["headers"] == {"X-Webhook-Secret": WEBHOOK_SECRET_OF_TENANT}
    assert stored_hash(db_conn, row["id"]) == row["webhook_secret_hash"]


def test_a_secret_that_is_not_the_tenants_is_refused(collision, admin_headers, sandbox, tenant):
    resp = connect(collision, admin_headers, tenant()["id"], webhook_secret="guess")
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == "webhook_secret"
    assert sandbox.state.instance(INSTANCE).webhook is None


@pytest.mark.parametrize("fields, code, words", [
    ({"evo_api_key": "wrong"}, "evolution_unauthorized", "evo_api_key"),
    ({"instance_name": "ghost-store"}, "evolution_unknown_instance", "ghost-store"),
    ({"evo_server_url": "http://127.0.0.1:9"}, "evolution_unreachable", "cannot reach Evolution"),
])
def test_an_evolution_problem_is_reported_and_changes_nothing(
        fields, code, words, collision, admin_headers, sandbox, tenant, db_conn):
    row = tenant(**fields)
    resp = connect(collision, admin_headers, row["id"])

    assert resp.status_code == 502
    err = resp.get_json()["error"]
    assert err["code"] == code and words in err["message"]
    assert stored_hash(db_conn, row["id"]) == row["webhook_secret_hash"]


def test_an_instance_not_logged_in_still_gets_its_webhook_and_a_hint(collision, admin_headers, sandbox, tenant):
    sandbox.post("/sandbox/instances", json={"instance": INSTANCE, "state": "close"})
    resp = connect(collision, admin_headers, tenant()["id"])

    assert resp.status_code == 200
    answer = resp.get_json()
    assert answer["connected"] is False and answer["connection_state"] == "close"
    assert "QR code" in answer["hint"]
    assert sandbox.state.instance(INSTANCE).webhook is not None


def test_connecting_needs_the_admin_token(collision, service_headers, sandbox, tenant):
    resp = collision.post(f"/api/tenants/{tenant()['id']}/connect", json={}, headers=service_headers)
    assert resp.status_code == 401


@pytest.mark.parametrize("tenant_id", ["8f3b2c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f", "not-a-uuid"])
def test_connecting_an_unknown_tenant_is_a_404(tenant_id, collision, admin_headers, clean_db):
    assert connect(collision, admin_headers, tenant_id).status_code == 404


def test_a_webhook_url_must_be_http(collision, admin_headers, sandbox, tenant):
    resp = connect(collision, admin_headers, tenant()["id"], webhook_url="ftp://x")
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "webhook_url"


def test_connecting_without_a_body_works(collision, admin_headers, sandbox, tenant):
    resp = collision.post(f"/api/tenants/{tenant()['id']}/connect", headers=admin_headers)
    assert resp.status_code == 200


# ---------------------------------------------------------------- rotation without loss


def webhook_with(collision, service_headers, secret: str, message_id: str):
    """A customer message as n8n forwards it from Evolution, with this X-Webhook-Secret."""
    import time

    from tests.fixtures import webhook

    body = webhook("01_customer_text_pn", key_id=message_id)
    body["data"]["messageTimestamp"] = int(time.time())
    return collision.post("/webhooks/evolution", json=body,
                          headers={**service_headers, "X-Webhook-Secret": secret})


def test_after_connecting_the_old_secret_still_works_for_the_grace_period(
        collision, admin_headers, service_headers, sandbox, tenant):
    row = tenant()
    new = connect(collision, admin_headers, row["id"]).get_json()["webhook_secret"]

    assert webhook_with(collision, service_headers, WEBHOOK_SECRET_OF_TENANT, "ROTATE01").status_code == 200
    assert webhook_with(collision, service_headers, new, "ROTATE02").status_code == 200
    timeline = collision.get(f"/api/events?tenant_id={row['id']}", headers=admin_headers).get_json()["events"]
    assert timeline[0]["event_type"] == "hybridflow.secret_rotated"
    assert timeline[0]["reason"].startswith("webhook secret rotated by connect;")


def test_a_webhook_evolution_sends_the_moment_it_has_the_new_secret_is_accepted(
        collision, admin_headers, service_headers, sandbox, tenant, monkeypatch):
    from python_services.core.evolution_client import EvolutionClient

    real_set_webhook = EvolutionClient.set_webhook
    during = []

    def set_webhook_then_a_message_arrives(self, instance, url, headers=None, **kw):
        answer = real_set_webhook(self, instance, url, headers, **kw)
        # Evolution switched and sent a webhook before HybridFlow got its answer
        during.append(webhook_with(collision, service_headers, headers["X-Webhook-Secret"], "ROTATE03").status_code)
        return answer

    monkeypatch.setattr(EvolutionClient, "set_webhook", set_webhook_then_a_message_arrives)
    assert connect(collision, admin_headers, tenant()["id"]).status_code == 200
    assert during == [200]


def test_when_setting_the_webhook_fails_the_old_secret_stays_current(
        collision, admin_headers, service_headers, sandbox, tenant, db_conn, monkeypatch):
    from python_services.core.evolution_client import EvolutionClient, EvolutionError

    def timed_out(self, *args, **kw):
        raise EvolutionError("timeout", "Evolution did not answer in time")

    monkeypatch.setattr(EvolutionClient, "set_webhook", timed_out)
    row = tenant()
    resp = connect(collision, admin_headers, row["id"])

    assert resp.status_code == 502
    assert stored_hash(db_conn, row["id"]) == row["webhook_secret_hash"]
    assert webhook_with(collision, service_headers, WEBHOOK_SECRET_OF_TENANT, "ROTATE04").status_code == 200
    reasons = [e["reason"] for e in collision.get(f"/api/events?tenant_id={row['id']}",
                                                  headers=admin_headers).get_json()["events"]]
    assert any(r.startswith("webhook secret rotated by connect, undone") for r in reasons)
