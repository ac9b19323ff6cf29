"""Rotating a tenant's webhook secret loses no webhook: the previous secret
is accepted for the tenant's webhook_secret_grace_minutes (60 by default)
after the rotation, then refused; the rotation and every webhook let in with
the previous secret show in the timeline. The clock is moved by setting the
rotation's time (the database's clock) into the past."""
from __future__ import annotations

import hashlib
import itertools
import json

import pytest

from tests.conftest import WEBHOOK_SECRET
from tests.rows import rows

from .conftest import fresh

_ids = itertools.count(1)


def customer_message() -> dict:
    """A new customer message each time (its own WhatsApp id)."""
    return fresh("01_customer_text_pn", key_id=f"ROTATION{next(_ids):06d}")


def rotate(admin, tenant) -> dict:
    resp = admin("POST", f"/api/tenants/{tenant['id']}/rotate-secret")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def rotated_minutes_ago(db_conn, tenant, minutes: float) -> None:
    """Moves the clock: the rotation happened `minutes` ago."""
    with db_conn.cursor() as cur:
        cur.execute("UPDATE tenants SET webhook_secret_rotated_at = now() - make_interval(secs => %s) WHERE id = %s",
                    (minutes * 60, tenant["id"]))


def event_count(db_conn) -> int:
    return rows(db_conn, "SELECT count(*) AS n FROM events WHERE event_type <> 'hybridflow.secret_rotated'")[0]["n"]


def test_a_webhook_with_the_old_secret_is_accepted_during_the_grace_period_and_refused_after_it(
        admin, tenant, deliver, db_conn):
    new = rotate(admin, tenant)["webhook_secret"]

    during = deliver(customer_message(), secret=WEBHOOK_SECRET)
    assert during.status_code == 200 and during.get_json()["decision"] == "reply"
    rotated_minutes_ago(db_conn, tenant, 59)
    assert deliver(customer_message(), secret=WEBHOOK_SECRET).status_code == 200

    rotated_minutes_ago(db_conn, tenant, 61)
    stored = event_count(db_conn)
    after = deliver(customer_message(), secret=WEBHOOK_SECRET)
    assert after.status_code == 401
    # the same refusal as any wrong secret, and nothing stored
    assert after.get_json()["error"]["field"] == "X-Webhook-Secret"
    assert event_count(db_conn) == stored
    assert deliver(customer_message(), secret=new).status_code == 200


@pytest.mark.parametrize("grace, minutes_ago, status", [
    (5, 4, 200), (5, 6, 401), (0, 0, 401), (60 * 24, 60 * 23, 200), (60 * 24, 60 * 25, 401),
])
def test_the_grace_period_is_the_tenants_setting(admin, make_tenant, deliver, db_conn, grace, minutes_ago, status):
    tenant = make_tenant(settings={"webhook_secret_grace_minutes": grace})
    rotate(admin, tenant)
    rotated_minutes_ago(db_conn, tenant, minutes_ago)
    assert deliver(customer_message(), secret=WEBHOOK_SECRET).status_code == status


def test_shortening_the_grace_after_a_rotation_ends_it_at_once(admin, tenant, deliver):
    rotate(admin, tenant)
    assert deliver(customer_message(), secret=WEBHOOK_SECRET).status_code == 200
    resp = admin("PATCH", f"/api/tenants/{tenant['id']}", json={"settings": {"webhook_secret_grace_minutes": 0}})
    assert resp.status_code == 200
    assert deliver(customer_message(), secret=WEBHOOK_SECRET).status_code == 401


def test_a_second_rotation_retires_the_first_secret_and_keeps_the_second(admin, tenant, deliver):
    second = rotate(admin, tenant)["webhook_secret"]
    third = rotate(admin, tenant)["webhook_secret"]
    assert deliver(customer_message(), secret=WEBHOOK_SECRET).status_code == 401
    assert deliver(customer_message(), secret=second).status_code == 200
    assert deliver(customer_message(), secret=third).status_code == 200


def test_another_tenants_previous_secret_is_refused(admin, tenant, make_tenant, deliver):
    other = make_tenant("other-store", webhook_secret="other-secret")
    rotate(admin, other)
    assert deliver(customer_message(), secret="other-secret").status_code == 401


def test_the_rotation_and_the_webhook_let_in_with_the_old_secret_show_in_the_timeline(admin, tenant, deliver):
    rotate(admin, tenant)
    assert deliver(customer_message(), secret=WEBHOOK_SECRET).status_code == 200

    events = admin("GET", f"/api/events?tenant_id={tenant['id']}").get_json()["events"]
    rotation, webhook = events[-2], events[-1]
    assert rotation["event_type"] == "hybridflow.secret_rotated"
    assert rotation["decision"] == "command" and rotation["chat_id"] is None and rotation["author"] == "system"
    assert "rotate-secret" in rotation["reason"]
    assert "the previous secret is accepted until" in rotation["reason"] and "UTC" in rotation["reason"]
    assert webhook["decision"] == "reply"
    assert webhook["reason"].startswith("customer message")
    assert "accepted with the previous webhook secret (grace until" in webhook["reason"]


def test_the_timeline_tells_the_grace_in_the_tenants_time_zone(admin, make_tenant, deliver):
    tenant = make_tenant(settings={"timezone": "America/Sao_Paulo"})
    rotate(admin, tenant)
    deliver(customer_message(), secret=WEBHOOK_SECRET)
    events = admin("GET", f"/api/events?tenant_id={tenant['id']}").get_json()["events"]
    assert all("America/Sao_Paulo)" in e["reason"] or "America/Sao_Paulo (" in e["reason"] for e in events)


def test_a_webhook_with_the_current_secret_carries_no_note(admin, tenant, deliver):
    new = rotate(admin, tenant)["webhook_secret"]
    deliver(customer_message(), secret=new)
    webhook = admin("GET", f"/api/events?tenant_id={tenant['id']}").get_json()["events"][-1]
    assert "previous" not in webhook["reason"]


def test_a_duplicate_delivery_with_the_old_secret_is_noted_too(admin, tenant, deliver):
    rotate(admin, tenant)
    body = customer_message()
    deliver(body, secret=WEBHOOK_SECRET)
    assert deliver(body, secret=WEBHOOK_SECRET).get_json()["decision"] == "duplicate"
    duplicate = admin("GET", f"/api/events?tenant_id={tenant['id']}").get_json()["events"][-1]
    assert duplicate["decision"] == "duplicate" and "previous webhook secret" in duplicate["reason"]


def test_the_tenant_says_until_when_the_previous_secret_works(admin, tenant, db_conn):
    before = admin("GET", f"/api/tenants/{tenant['id']}").get_json()
    assert before["previous_webhook_secret_accepted_until"] is None and before["webhook_secret_rotated_at"] is None
    answer = rotate(admin, tenant)
    shown = admin("GET", f"/api/tenants/{tenant['id']}").get_json()
    assert shown["previous_webhook_secret_accepted_until"] == answer["previous_webhook_secret_accepted_until"]
    row = rows(db_conn, "SELECT * FROM tenants WHERE id = %s", tenant["id"])[0]
    assert row["previous_webhook_secret_hash"] == hashlib.sha256(WEBHOOK_SECRET.encode()).hexdigest()
    assert row["webhook_secret_hash"] == hashlib.sha256(answer["webhook_secret"].encode()).hexdigest()
    assert shown["effective_settings"]["webhook_secret_grace_minutes"] == 60


def test_no_secret_lands_in_the_log_lines(admin, tenant, deliver, caplog):
    new = rotate(admin, tenant)["webhook_secret"]
    deliver(customer_message(), secret=WEBHOOK_SECRET)
    deliver(customer_message(), secret=new)
    text = "\n".join(json.dumps(getattr(r, "fields", {})) + r.getMessage() for r in caplog.records)
    assert WEBHOOK_SECRET not in text and new not in text
    assert '"secret": "previous"' in text
