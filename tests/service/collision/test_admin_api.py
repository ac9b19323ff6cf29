"""The admin API (Bearer ADMIN_TOKEN): tenants, sessions, the events timeline
and /cron/auto-resume."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from tests.rows import rows

from .conftest import CHAT, fresh

NEW_TENANT = {
    "instance_name": "loja-da-ana",
    "business_name": "Loja da Ana",
    "evo_server_url": "https://evo.example.com/",
    "evo_api_key": "B6D711FCDE4D4FD5936544120E713976",
    "system_prompt": "Você é a assistente da {business_name}.",
    "llm_provider": "openai",
    "llm_model": "gpt-4o-mini",
    "settings": {"debounce_seconds": 5, "resume_after_minutes": 30.5, "llm_api_key": "sk-secret-value-1234"},
}


def create(admin, **changes):
    resp = admin("POST", "/api/tenants", json={**NEW_TENANT, **changes})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


# ---------------------------------------------------------------- tenants


def test_creating_a_tenant_returns_its_webhook_secret_once_and_keeps_only_the_hash(admin, db_conn, deliver):
    body = create(admin)
    secret = body["webhook_secret"]
    assert len(secret) >= 32
    stored = rows(db_conn, "SELECT webhook_secret_hash FROM tenants")[0]["webhook_secret_hash"]
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    assert "webhook_secret" not in admin("GET", f"/api/tenants/{body['id']}").get_json()
    webhook = fresh("01_customer_text_pn")
    webhook["instance"] = "loja-da-ana"
    assert deliver(webhook, secret=secret).get_json()["decision"] == "reply"


def test_a_tenant_is_shown_with_its_keys_masked(admin):
    body = create(admin)
    assert body["evo_api_key"] == "****3976"
    assert body["settings"]["llm_api_key"] == "****1234"
    assert body["evo_server_url"] == "https://evo.example.com"
    assert body["effective_settings"]["debounce_seconds"] == 5
    assert body["effective_settings"]["stale_after_minutes"] == 10
    assert "B6D711FCDE4D4FD5936544120E713976" not in str(admin("GET", "/api/tenants").get_json())


@pytest.mark.parametrize("change, field", [
    ({"instance_name": None}, "instance_name"),
    ({"instance_name": "has space"}, "instance_name"),
    ({"instance_name": ""}, "instance_name"),
    ({"evo_server_url": "ftp://x"}, "evo_server_url"),
    ({"evo_api_key": 42}, "evo_api_key"),
    ({"llm_provider": "skynet"}, "llm_provider"),
    ({"system_prompt": "x" * 20001}, "system_prompt"),
    ({"colour": "blue"}, "colour"),
    ({"settings": []}, "settings"),
    ({"settings": {"debounce_seconds": "3"}}, "settings.debounce_seconds"),
    ({"settings": {"debounce_seconds": 301}}, "settings.debounce_seconds"),
    ({"settings": {"resume_after_minutes": 0}}, "settings.resume_after_minutes"),
    ({"settings": {"ignore_groups": "yes"}}, "settings.ignore_groups"),
    ({"settings": {"handoff_keywords": [""]}}, "settings.handoff_keywords"),
    ({"settings": {"owner_commands": {"pause": ""}}}, "settings.owner_commands"),
    ({"settings": {"no_such_setting": 1}}, "settings.no_such_setting"),
])
def test_a_tenant_with_a_bad_field_is_refused_naming_it(admin, db_conn, change, field):
    body = {**NEW_TENANT, **change}
    if change.get("instance_name", "") is None:
        del body["instance_name"]
    resp = admin("POST", "/api/tenants", json=body)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == field
    assert rows(db_conn, "SELECT count(*) AS n FROM tenants")[0]["n"] == 0


def test_a_second_tenant_for_the_same_instance_is_a_conflict(admin):
    create(admin)
    resp = admin("POST", "/api/tenants", json=NEW_TENANT)
    assert resp.status_code == 409 and resp.get_json()["error"]["field"] == "instance_name"


def test_tenants_are_listed_and_fetched(admin):
    a, b = create(admin), create(admin, instance_name="outra-loja")
    listed = admin("GET", "/api/tenants").get_json()["tenants"]
    assert [t["id"] for t in listed] == [a["id"], b["id"]]
    assert admin("GET", f"/api/tenants/{b['id']}").get_json()["instance_name"] == "outra-loja"


@pytest.mark.parametrize("tenant_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"])
def test_an_unknown_tenant_is_not_found(admin, tenant_id):
    assert admin("GET", f"/api/tenants/{tenant_id}").status_code == 404
    assert admin("PATCH", f"/api/tenants/{tenant_id}", json={"llm_model": "x"}).status_code == 404


def test_patching_a_tenant_changes_only_what_is_given_and_merges_settings(admin):
    t = create(admin)
    resp = admin("PATCH", f"/api/tenants/{t['id']}", json={
        "llm_model": "gpt-4.1", "settings": {"stale_after_minutes": 2, "debounce_seconds": None}})
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["llm_model"], body["llm_provider"]) == ("gpt-4.1", "openai")
    assert body["settings"] == {"resume_after_minutes": 30.5, "llm_api_key": "****1234", "stale_after_minutes": 2}
    assert body["effective_settings"]["debounce_seconds"] == 3
    assert body["updated_at"] > t["updated_at"]


@pytest.mark.parametrize("patch, field", [
    ({"settings": {"echo_window_seconds": 0}}, "settings.echo_window_seconds"),
    ({"settings": {"typing_min_ms": 9000}}, "settings.typing_min_ms"),
    ({"llm_provider": "nope"}, "llm_provider"),
    ({"webhook_secret_hash": "0" * 64}, "webhook_secret_hash"),
])
def test_a_bad_patch_is_refused_and_changes_nothing(admin, patch, field):
    t = create(admin)
    resp = admin("PATCH", f"/api/tenants/{t['id']}", json=patch)
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field
    assert admin("GET", f"/api/tenants/{t['id']}").get_json()["settings"] == t["settings"]


def test_renaming_a_tenant_onto_another_instance_is_a_conflict(admin):
    create(admin)
    other = create(admin, instance_name="outra-loja")
    resp = admin("PATCH", f"/api/tenants/{other['id']}", json={"instance_name": "loja-da-ana"})
    assert resp.status_code == 409


def test_rotating_the_secret_with_no_grace_retires_the_old_one_at_once(admin, deliver):
    # the grace period after a rotation is in test_rotation.py
    t = create(admin, settings={"webhook_secret_grace_minutes": 0})
    new = admin("POST", f"/api/tenants/{t['id']}/rotate-secret").get_json()["webhook_secret"]
    webhook = fresh("01_customer_text_pn")
    webhook["instance"] = "loja-da-ana"
    assert deliver(webhook, secret=t["webhook_secret"]).status_code == 401
    assert deliver(webhook, secret=new).status_code == 200


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/tenants"), ("POST", "/api/tenants"), ("GET", "/api/sessions"), ("GET", "/api/events"),
    ("POST", "/api/sessions/00000000-0000-4000-8000-000000000000/pause"),
])
def test_the_admin_api_wants_the_admin_token_not_the_service_token(app, service_headers, method, path):
    client = app.test_client()
    assert client.open(path, method=method, headers=service_headers, json={}).status_code == 401
    assert client.open(path, method=method, json={}).status_code == 401


# ---------------------------------------------------------------- sessions


@pytest.fixture
def chats(tenant, make_tenant, deliver, db_conn):
    """Three chats: one replying, one taken over by the owner, one of another tenant."""
    deliver(fresh("01_customer_text_pn"))
    owner = fresh("05_owner_manual_reply_from_phone", key_remoteJid="5511900000001@s.whatsapp.net",
                  key_remoteJidAlt=None)
    deliver(owner)
    other = make_tenant("other-store", webhook_secret="other")
    body = fresh("01_customer_text_pn")
    body["instance"] = "other-store"
    deliver(body, secret="other")
    return {r["chat_id"]: r for r in rows(db_conn, "SELECT * FROM sessions WHERE tenant_id = %s", tenant["id"])}, other


def test_sessions_are_listed_by_tenant_and_pause_state(admin, tenant, chats):
    own, other = chats
    everyone = admin("GET", "/api/sessions").get_json()["sessions"]
    assert len(everyone) == 3
    mine = admin("GET", f"/api/sessions?tenant_id={tenant['id']}").get_json()["sessions"]
    assert {s["chat_id"] for s in mine} == set(own)
    paused = admin("GET", f"/api/sessions?tenant_id={tenant['id']}&paused=true").get_json()["sessions"]
    assert [(s["chat_id"], s["pause_reason"], s["number"]) for s in paused] == [
        ("5511900000001@s.whatsapp.net", "human_takeover", "5511900000001")]
    active = admin("GET", f"/api/sessions?paused=false&tenant_id={other['id']}").get_json()["sessions"]
    assert [s["tenant_id"] for s in active] == [str(other["id"])]


@pytest.mark.parametrize("query, field", [("tenant_id=nope", "tenant_id"), ("paused=maybe", "paused"),
                                          ("limit=0", "limit")])
def test_bad_session_filters_are_refused_naming_them(admin, query, field):
    resp = admin("GET", f"/api/sessions?{query}")
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field


def test_pausing_by_hand_has_no_end_and_cancels_the_reply_in_flight(admin, chats, db_conn):
    own, _ = chats
    session = own[CHAT]
    resp = admin("POST", f"/api/sessions/{session['id']}/pause")
    body = resp.get_json()
    assert (body["paused"], body["pause_reason"], body["paused_until"]) == (True, "manual", None)
    assert rows(db_conn, "SELECT state, reason FROM reply_tokens WHERE session_id = %s", session["id"]) == [
        {"state": "cancelled", "reason": "manual"}]
    assert admin("GET", f"/api/sessions/{session['id']}").get_json()["paused"] is True


def test_resuming_by_hand_lifts_any_pause(admin, chats):
    own, _ = chats
    session = own["5511900000001@s.whatsapp.net"]
    body = admin("POST", f"/api/sessions/{session['id']}/resume").get_json()
    assert (body["paused"], body["pause_reason"], body["paused_until"]) == (False, None, None)


@pytest.mark.parametrize("path", ["/api/sessions/{x}", "/api/sessions/{x}/pause", "/api/sessions/{x}/resume"])
@pytest.mark.parametrize("session_id", ["00000000-0000-4000-8000-000000000000", "nope"])
def test_an_unknown_session_is_not_found(admin, path, session_id):
    method = "GET" if path.endswith("{x}") else "POST"
    assert admin(method, path.format(x=session_id)).status_code == 404


# ---------------------------------------------------------------- auto-resume


def paused_session(db_conn, tenant, chat, reason, until):
    with db_conn.cursor() as cur:
        cur.execute(
            "INSERT INTO sessions (tenant_id, chat_id, paused, pause_reason, paused_at, paused_until)"
            " VALUES (%s, %s, true, %s, now(), now() + %s) RETURNING id",
            (tenant["id"], chat, reason, until) if until is not None else (tenant["id"], chat, reason, None))
        return cur.fetchone()["id"]


@pytest.mark.parametrize("reason, until, resumed", [
    ("human_takeover", timedelta(seconds=-1), True),
    ("human_takeover", timedelta(minutes=5), False),
    ("manual", None, False),
    ("owner_command", None, False),
    ("customer_request", None, False),
    ("handoff", None, False),
    ("manual", timedelta(seconds=-1), False),
])
def test_auto_resume_lifts_only_takeover_pauses_that_are_due(app, admin_headers, tenant, db_conn, reason, until, resumed):
    session_id = paused_session(db_conn, tenant, CHAT, reason, until)
    resp = app.test_client().post("/cron/auto-resume", headers=admin_headers)
    assert resp.get_json() == {"resumed": int(resumed)}
    assert rows(db_conn, "SELECT paused FROM sessions WHERE id = %s", session_id)[0]["paused"] is not resumed


def test_the_schedule_flow_resumes_with_the_service_token(app, service_headers, tenant, db_conn):
    for n in range(3):
        paused_session(db_conn, tenant, f"55119000000{n}@s.whatsapp.net", "human_takeover", timedelta(seconds=-1))
    assert app.test_client().post("/cron/auto-resume", headers=service_headers).get_json() == {"resumed": 3}
    assert app.test_client().post("/cron/auto-resume").status_code == 401


# ---------------------------------------------------------------- timeline


def test_the_timeline_tells_each_event_with_its_decision_and_why(admin, tenant, deliver):
    deliver(fresh("01_customer_text_pn"))
    deliver(fresh("15b_duplicate_delivery_retry"))
    deliver(fresh("05_owner_manual_reply_from_phone"))
    deliver(fresh("16_connection_update"))
    deliver(fresh("01_customer_text_pn", key_id="SECOND", message={"conversation": "Oi?"}))
    events = admin("GET", f"/api/events?tenant_id={tenant['id']}&chat_id=5511987654321").get_json()["events"]
    assert [(e["decision"], e["author"]) for e in events] == [
        ("reply", "customer"), ("duplicate", "customer"), ("human_takeover", "business"), ("paused", "customer")]
    assert "paused until" in events[2]["reason"]
    assert events[0]["message"]["text"] == "Oi! Vocês têm o tênis azul no tamanho 38?"
    assert events[0]["reply_token_id"] is not None and events[1]["message"] is None
    everything = admin("GET", f"/api/events?tenant_id={tenant['id']}").get_json()["events"]
    assert len(everything) == 5 and everything[3]["event_type"] == "connection.update"
    latest = admin("GET", f"/api/events?tenant_id={tenant['id']}&limit=2").get_json()["events"]
    assert [e["id"] for e in latest] == [e["id"] for e in everything[-2:]]


@pytest.mark.parametrize("query, field", [("", "tenant_id"), ("tenant_id=x", "tenant_id")])
def test_the_timeline_needs_a_tenant(admin, query, field):
    resp = admin("GET", f"/api/events?{query}")
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field
