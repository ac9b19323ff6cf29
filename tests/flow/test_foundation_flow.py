"""The whole path is alive: Evolution -> n8n -> collision service -> Postgres."""
import hashlib
import json

import pytest

from python_services.common.config import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "webhooks"
SECRET = "flow-webhook-secret"


@pytest.fixture
def tenant(flow_stack):
    with flow_stack.db() as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO tenants (instance_name, webhook_secret_hash) VALUES ('found-store', %s)"
            " ON CONFLICT (instance_name) DO UPDATE SET webhook_secret_hash = EXCLUDED.webhook_secret_hash RETURNING *",
            (hashlib.sha256(SECRET.encode()).hexdigest(),),
        )
        return cur.fetchone()


def test_a_webhook_posted_to_n8n_is_recorded_in_postgres(flow_stack, tenant):
    body = json.loads((FIXTURES / "01_customer_text_pn.json").read_text())
    body["instance"] = "found-store"
    body["data"]["key"]["id"] = "FOUNDATION-0001"
    resp = flow_stack.post_webhook(body, SECRET)
    assert resp.status_code == 200, resp.text
    decision = resp.json()
    assert decision["event_id"]
    with flow_stack.db() as conn, conn.cursor() as cur:
        cur.execute("SELECT tenant_id, event_type FROM events WHERE id = %s", (decision["event_id"],))
        row = cur.fetchone()
    assert row == {"tenant_id": tenant["id"], "event_type": "messages.upsert"}


def test_n8n_passes_the_services_refusal_through_as_is(flow_stack, tenant):
    # an unknown instance: the same 401 as a wrong secret (instance names cannot be probed)
    resp = flow_stack.post_webhook({"event": "messages.upsert", "instance": "no-such-store", "data": {}}, SECRET)
    assert resp.status_code == 401
    assert resp.json()["error"]["field"] == "X-Webhook-Secret"
