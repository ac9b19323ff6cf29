"""Tenant tokens on the admin API, table-driven over roles x endpoints: each
role can do exactly what it should in its own tenant, never reads or changes
another tenant's data (404, as for an id that does not exist), and a revoked
token fails at once. The platform admin (ADMIN_TOKEN) reaches everything."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from python_services.collision.app import create_app
from python_services.common.db import close_pool
from python_services.core import accounts, api_tokens, knowledge, ledger, users
from python_services.llm.app import create_app as create_llm_app
from tests.conftest import ADMIN_TOKEN, SERVICE_TOKEN
from tests.rows import rows

CHAT = "5511987654321@s.whatsapp.net"
ROLES = ("owner", "agent", "viewer")
EVERYONE, AGENTS, OWNERS, NOBODY = set(ROLES), {"owner", "agent"}, {"owner"}, set()
# made once: each person below gets it (scrypt takes 0.1 s a hash)
PASSWORD = "correct horse battery staple"
_HASH = {}


def password_hash() -> str:
    if "h" not in _HASH:
        _HASH["h"] = accounts.hash_password(PASSWORD)
    return _HASH["h"]


@dataclass
class Tenant:
    id: str
    session: str
    member: str
    spare_token: str
    tokens: dict
    entry: str


def arrange_tenant(tx, make_tenant, name: str) -> Tenant:
    row = make_tenant(name, webhook_secret=f"{name}-secret")

    def arrange(cur):
        session = ledger.lock_session(cur, row["id"], CHAT)
        owner = users.insert(cur, f"owner@{name}.example", password_hash())
        member = users.insert(cur, f"agent@{name}.example", password_hash())
        accounts.memberships.insert(cur, row["id"], owner["id"], "owner")
        accounts.memberships.insert(cur, row["id"], member["id"], "agent")
        tokens = {}
        for role in ROLES:
            token = api_tokens.new_token()[0]
            api_tokens.insert(cur, row["id"], f"{role}-token", role, token, "test")
            tokens[role] = token
        spare = api_tokens.insert(cur, row["id"], "spare", "viewer", api_tokens.new_token()[0], "test")
        entry = knowledge.create(cur, row["id"], title="Opening hours", content="Mon-Fri 9 to 18.",
                                 language="english", actor="test")
        return Tenant(str(row["id"]), str(session["id"]), str(member["id"]), str(spare["id"]), tokens,
                      str(entry["id"]))

    return tx(arrange)


@pytest.fixture
def world(tx, make_tenant):
    """Two tenants, each with a chat, an owner and an agent, a token per role and a spare token."""
    return {"mine": arrange_tenant(tx, make_tenant, "shop-a"), "other": arrange_tenant(tx, make_tenant, "shop-b")}


@pytest.fixture
def llm_app(service_config):
    app = create_llm_app(service_config)
    yield app
    close_pool(app)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    may: set
    body: dict | None = None
    service: str = "collision"

    def __str__(self):
        return f"{self.method} {self.path}"


def new_user_body():
    new_user_body.n = getattr(new_user_body, "n", 0) + 1
    return {"email": f"person{new_user_body.n}@example.com", "password": "a long enough password", "role": "viewer"}


ENDPOINTS = [
    Endpoint("GET", "/api/tenants", EVERYONE),
    Endpoint("GET", "/api/tenants/{tenant}", EVERYONE),
    Endpoint("PATCH", "/api/tenants/{tenant}", OWNERS, {"settings": {"debounce_seconds": 4}}),
    Endpoint("PATCH", "/api/tenants/{tenant}", NOBODY, {"instance_name": "renamed-shop"}),
    Endpoint("POST", "/api/tenants/{tenant}/rotate-secret", OWNERS),
    Endpoint("POST", "/api/tenants/{tenant}/connect", OWNERS, {"webhook_url": "http://127.0.0.1:9/webhook"}),
    Endpoint("GET", "/api/sessions", EVERYONE),
    Endpoint("GET", "/api/sessions?tenant_id={tenant}", EVERYONE),
    Endpoint("GET", "/api/sessions/{session}", EVERYONE),
    Endpoint("POST", "/api/sessions/{session}/pause", AGENTS),
    Endpoint("POST", "/api/sessions/{session}/resume", AGENTS),
    Endpoint("GET", "/api/events", EVERYONE),
    Endpoint("GET", "/api/events?tenant_id={tenant}&chat_id=5511987654321", EVERYONE),
    Endpoint("GET", "/api/tenants/{tenant}/users", OWNERS),
    Endpoint("POST", "/api/tenants/{tenant}/users", OWNERS, {}),
    Endpoint("DELETE", "/api/tenants/{tenant}/users/{member}", OWNERS),
    Endpoint("GET", "/api/tenants/{tenant}/tokens", OWNERS),
    Endpoint("POST", "/api/tenants/{tenant}/tokens", OWNERS, {"name": "crm", "role": "agent"}),
    Endpoint("DELETE", "/api/tenants/{tenant}/tokens/{spare_token}", OWNERS),
    Endpoint("GET", "/api/tenants/{tenant}/knowledge", EVERYONE),
    Endpoint("GET", "/api/tenants/{tenant}/knowledge?q=hours", EVERYONE),
    Endpoint("POST", "/api/tenants/{tenant}/knowledge", OWNERS, {"title": "Returns", "content": "30 days."}),
    Endpoint("GET", "/api/tenants/{tenant}/knowledge/{entry}", EVERYONE),
    Endpoint("PUT", "/api/tenants/{tenant}/knowledge/{entry}", OWNERS, {"title": "Hours", "content": "9 to 19."}),
    Endpoint("DELETE", "/api/tenants/{tenant}/knowledge/{entry}", OWNERS),
    Endpoint("GET", "/api/usage", EVERYONE, service="llm"),
    Endpoint("GET", "/api/usage?tenant_id={tenant}&days=30", EVERYONE, service="llm"),
]
# the endpoints that name a tenant's id (in the path or the query)
NAMING_AN_ID = [e for e in ENDPOINTS if "{" in e.path]


def call(app, llm_app, endpoint: Endpoint, tenant: Tenant, headers: dict):
    path = endpoint.path.format(tenant=tenant.id, session=tenant.session, member=tenant.member,
                                spare_token=tenant.spare_token, entry=tenant.entry)
    body = new_user_body() if endpoint.body == {} else endpoint.body
    client = (llm_app if endpoint.service == "llm" else app).test_client()
    return client.open(path, method=endpoint.method, headers=headers, **({"json": body} if body is not None else {}))


def allowed_answer(resp) -> bool:
    # connecting reaches the (absent) Evolution server: a 502 is past the access check
    return resp.status_code in (200, 201, 502)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_role_can_do_exactly_what_it_should_in_its_own_tenant(app, llm_app, world, role, endpoint):
    mine = world["mine"]
    resp = call(app, llm_app, endpoint, mine, bearer(mine.tokens[role]))
    if role in endpoint.may:
        assert allowed_answer(resp), (resp.status_code, resp.get_json())
    else:
        assert resp.status_code == 403, (resp.status_code, resp.get_json())
        assert resp.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", NAMING_AN_ID, ids=str)
def test_a_tenant_token_never_reaches_another_tenants_data(app, llm_app, world, db_conn, role, endpoint):
    mine, other = world["mine"], world["other"]
    before = rows(db_conn, "SELECT * FROM tenants WHERE id = %s", other.id)
    resp = call(app, llm_app, endpoint, other, bearer(mine.tokens[role]))
    assert resp.status_code == 404, (resp.status_code, resp.get_json())
    # the same answer as for an id that does not exist
    assert resp.get_json()["error"]["code"] == "not_found"
    assert rows(db_conn, "SELECT * FROM tenants WHERE id = %s", other.id) == before
    assert rows(db_conn, "SELECT paused FROM sessions WHERE id = %s", other.session) == [{"paused": False}]
    assert rows(db_conn, "SELECT count(*) AS n FROM memberships WHERE tenant_id = %s", other.id) == [{"n": 2}]
    assert rows(db_conn, "SELECT count(*) AS n FROM api_tokens WHERE tenant_id = %s AND revoked_at IS NULL",
                other.id) == [{"n": 4}]
    assert rows(db_conn, "SELECT title, content FROM knowledge_entries WHERE tenant_id = %s", other.id) \
        == [{"title": "Opening hours", "content": "Mon-Fri 9 to 18."}]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_the_platform_admin_reaches_every_endpoint_of_every_tenant(app, llm_app, world, endpoint):
    resp = call(app, llm_app, endpoint, world["other"], bearer(ADMIN_TOKEN))
    if endpoint.may == NOBODY and endpoint.method == "PATCH":
        assert resp.status_code == 200  # renaming an instance: the platform admin's alone
    elif endpoint.path == "/api/events":
        # every tenant's timeline at once is not a thing: the platform admin names the tenant
        assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "tenant_id"
    else:
        assert allowed_answer(resp), (resp.status_code, resp.get_json())


@pytest.mark.parametrize("role", ROLES)
def test_lists_show_only_the_tokens_own_tenant(app, llm_app, world, role):
    mine, headers = world["mine"], bearer(world["mine"].tokens[role])
    client = app.test_client()
    assert [t["id"] for t in client.get("/api/tenants", headers=headers).get_json()["tenants"]] == [mine.id]
    assert {s["tenant_id"] for s in client.get("/api/sessions", headers=headers).get_json()["sessions"]} == {mine.id}
    everyone = client.get("/api/sessions", headers=bearer(ADMIN_TOKEN)).get_json()["sessions"]
    assert len(everyone) == 2


@pytest.mark.parametrize("role", ROLES)
def test_creating_tenants_and_the_schedules_are_the_platform_admins(app, world, role):
    client, headers = app.test_client(), bearer(world["mine"].tokens[role])
    resp = client.post("/api/tenants", json={"instance_name": "new-shop"}, headers=headers)
    assert resp.status_code == 403
    assert client.post("/cron/auto-resume", headers=headers).status_code == 401
    assert client.post("/cron/prune", headers=headers).status_code == 401


def test_a_revoked_token_fails_at_once_in_every_worker(service_config, world):
    owner = bearer(world["mine"].tokens["owner"])
    first, second = create_app(service_config), create_app(service_config)  # two workers, two pools
    try:
        made = first.test_client().post(f"/api/tenants/{world['mine'].id}/tokens",
                                        json={"name": "crm", "role": "agent"}, headers=owner).get_json()
        crm = bearer(made["token"])
        assert second.test_client().get("/api/sessions", headers=crm).status_code == 200
        revoked = first.test_client().delete(f"/api/tenants/{world['mine'].id}/tokens/{made['id']}", headers=owner)
        assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
        for app in (first, second):
            resp = app.test_client().get("/api/sessions", headers=crm)
            assert resp.status_code == 401 and resp.get_json()["error"]["field"] == "Authorization"
    finally:
        close_pool(first)
        close_pool(second)


def test_a_token_is_shown_once_and_kept_only_as_its_hash(app, world, db_conn):
    owner = bearer(world["mine"].tokens["owner"])
    made = app.test_client().post(f"/api/tenants/{world['mine'].id}/tokens", json={"name": "crm", "role": "viewer"},
                                  headers=owner)
    assert made.status_code == 201
    token = made.get_json()["token"]
    assert token.startswith("hft_") and len(token) > 40
    listed = app.test_client().get(f"/api/tenants/{world['mine'].id}/tokens", headers=owner).get_json()["tokens"]
    assert token not in str(listed) and {t["name"] for t in listed} == {"owner-token", "agent-token",
                                                                        "viewer-token", "spare", "crm"}
    stored = rows(db_conn, "SELECT * FROM api_tokens WHERE name = 'crm'")[0]
    assert token not in str(stored) and stored["token_hash"] == api_tokens.token_hash(token)


def test_a_tokens_use_is_noted(app, world, db_conn):
    mine = world["mine"]
    assert rows(db_conn, "SELECT last_used_at FROM api_tokens WHERE name = 'viewer-token' AND tenant_id = %s",
                mine.id)[0]["last_used_at"] is None
    app.test_client().get("/api/sessions", headers=bearer(mine.tokens["viewer"]))
    assert rows(db_conn, "SELECT last_used_at FROM api_tokens WHERE name = 'viewer-token' AND tenant_id = %s",
                mine.id)[0]["last_used_at"] is not None


@pytest.mark.parametrize("body, field", [
    ({"name": "crm"}, "role"),
    ({"name": "crm", "role": "admin"}, "role"),
    ({"name": "", "role": "agent"}, "name"),
    ({"name": "x" * 101, "role": "agent"}, "name"),
    ({"name": "crm", "role": "agent", "tenant_id": "x"}, "tenant_id"),
])
def test_a_bad_token_request_is_refused_naming_the_field(app, world, body, field):
    resp = app.test_client().post(f"/api/tenants/{world['mine'].id}/tokens", json=body, headers=bearer(ADMIN_TOKEN))
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field


def test_a_live_token_name_is_unique_in_its_tenant_and_a_revoked_one_frees_it(app, world):
    client, path = app.test_client(), f"/api/tenants/{world['mine'].id}/tokens"
    assert client.post(path, json={"name": "spare", "role": "agent"}, headers=bearer(ADMIN_TOKEN)).status_code == 409
    client.delete(f"{path}/{world['mine'].spare_token}", headers=bearer(ADMIN_TOKEN))
    assert client.post(path, json={"name": "spare", "role": "agent"}, headers=bearer(ADMIN_TOKEN)).status_code == 201


@pytest.mark.parametrize("header", ["Bearer hft_" + "x" * 43, "Bearer nothing-like-a-token", "Basic abc", "",
                                    f"Bearer {SERVICE_TOKEN}"])
def test_an_unknown_token_is_a_401(app, world, header):
    resp = app.test_client().get("/api/sessions", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401


def test_a_pause_and_a_resume_by_token_are_attributed_in_the_timeline(app, world, db_conn):
    mine = world["mine"]
    agent = bearer(mine.tokens["agent"])
    client = app.test_client()
    paused = client.post(f"/api/sessions/{mine.session}/pause", headers=agent).get_json()
    assert paused["paused_by"] == "token 'agent-token'"
    client.post(f"/api/sessions/{mine.session}/resume", headers=bearer(ADMIN_TOKEN))
    events = client.get(f"/api/events?chat_id={CHAT}", headers=agent).get_json()["events"]
    assert [(e["event_type"], e["actor"]) for e in events] == [
        ("hybridflow.chat_paused", "token 'agent-token'"), ("hybridflow.chat_resumed", "the platform admin")]
    assert "by token 'agent-token'" in events[1]["reason"]  # who had paused it


def test_a_settings_change_is_attributed_naming_the_keys_never_the_values(app, world):
    mine = world["mine"]
    owner = bearer(mine.tokens["owner"])
    client = app.test_client()
    client.patch(f"/api/tenants/{mine.id}", json={"llm_model": "gpt-4.1",
                                                  "settings": {"llm_api_key": "sk-very-secret-1234"}}, headers=owner)
    [change] = [e for e in client.get("/api/events", headers=owner).get_json()["events"]
                if e["event_type"] == "hybridflow.tenant_changed"]
    assert change["actor"] == "token 'owner-token'"
    assert "llm_model" in change["reason"] and "settings.llm_api_key" in change["reason"]
    assert "sk-very-secret" not in change["reason"]


def test_the_schedule_and_the_owners_phone_are_named_too(app, world, db_conn):
    mine = world["mine"]
    with db_conn.cursor() as cur:
        cur.execute("UPDATE sessions SET paused = true, pause_reason = 'human_takeover', paused_by = %s,"
                    " paused_at = now(), paused_until = now() - interval '1 second' WHERE id = %s",
                    ("the owner's phone", mine.session))
    assert app.test_client().get(f"/api/sessions/{mine.session}",
                                 headers=bearer(mine.tokens["viewer"])).get_json()["paused_by"] == "the owner's phone"
    assert app.test_client().post("/cron/auto-resume", headers={"X-Service-Token": SERVICE_TOKEN}).get_json() == {
        "resumed": 1}
    [resumed] = app.test_client().get("/api/events", headers=bearer(mine.tokens["viewer"])).get_json()["events"]
    assert (resumed["event_type"], resumed["actor"], resumed["chat_id"]) == ("hybridflow.chat_resumed", "the schedule",
                                                                             CHAT)


def test_a_tenant_token_sees_its_own_llm_usage_only(llm_app, world, tx):
    def spend(cur, tenant_id, tokens_in):
        session = ledger.lock_session(cur, tenant_id, CHAT)
        token = ledger.create_token(cur, session, 60)
        ledger.record_llm_result(cur, token["id"], provider="openai", model="gpt-4o-mini", outcome="ok",
                                 tokens_in=tokens_in, tokens_out=10, latency_ms=5, text="hi")

    tx(spend, world["mine"].id, 100)
    tx(spend, world["other"].id, 999)
    client = llm_app.test_client()
    mine = client.get("/api/usage", headers=bearer(world["mine"].tokens["viewer"])).get_json()
    assert mine["tenant_id"] == world["mine"].id
    assert [(d["tenant_id"], d["tokens_in"]) for d in mine["usage"]] == [(world["mine"].id, 100)]
    everyone = client.get("/api/usage", headers=bearer(ADMIN_TOKEN)).get_json()["usage"]
    assert sorted(d["tokens_in"] for d in everyone) == [100, 999]
