"""People: the users endpoints, logging in (core/accounts.py, what the
console's login calls), throttling of failed logins shared by every worker,
console sessions (idle and absolute expiry, ended by a password change or a
removal), and passwords never logged, returned or stored."""
from __future__ import annotations

import io
import json
import logging

import pytest

from python_services.collision.app import create_app
from python_services.common.db import close_pool
from python_services.common.logs import JsonFormatter
from python_services.core import accounts, web_sessions
from python_services.core.accounts import LoginPolicy, LoginRefused, LoginThrottled, SessionPolicy
from tests.conftest import ADMIN_TOKEN
from tests.rows import rows

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PASSWORD = "a password of some length"
POLICY = LoginPolicy(max_failures_per_account=3, max_failures_per_address=5, window_seconds=600, key=b"test")


@pytest.fixture
def add(app, tenant):
    """add(email, role="owner", password=PASSWORD) -> the response of POST /api/tenants/<id>/users (as the admin)."""
    def post(email, role="owner", password=PASSWORD, tenant_id=None):
        body = {"email": email, "role": role, **({"password": password} if password is not None else {})}
        return app.test_client().post(f"/api/tenants/{tenant_id or tenant['id']}/users", json=body, headers=ADMIN)
    return post


def login(tx, email, password, address="203.0.113.5", policy=POLICY):
    """check_login in its own committed transaction: the person, or the error it would raise."""
    return tx(accounts.check_login, email, password, address, policy)


# ---------------------------------------------------------------- the users endpoints


def test_a_person_is_added_listed_and_removed_and_the_password_never_comes_back(app, tenant, add, db_conn):
    resp = add("Ana@Example.com ")
    body = resp.get_json()
    assert resp.status_code == 201
    assert (body["email"], body["role"], body["new_account"]) == ("ana@example.com", "owner", True)
    add("bruno@example.com", role="agent")
    listed = app.test_client().get(f"/api/tenants/{tenant['id']}/users", headers=ADMIN).get_json()["users"]
    assert [(u["email"], u["role"]) for u in listed] == [("ana@example.com", "owner"), ("bruno@example.com", "agent")]
    assert PASSWORD not in json.dumps(body) + json.dumps(listed)
    assert "password" not in json.dumps(listed)
    stored = rows(db_conn, "SELECT password_hash FROM users")
    assert all(r["password_hash"].startswith("scrypt:") and PASSWORD not in r["password_hash"] for r in stored)
    gone = app.test_client().delete(f"/api/tenants/{tenant['id']}/users/{listed[1]['id']}", headers=ADMIN)
    assert gone.status_code == 200
    assert rows(db_conn, "SELECT email FROM users") == [{"email": "ana@example.com"}]


@pytest.mark.parametrize("body, field", [
    ({"email": "ana@example.com", "password": "short", "role": "owner"}, "password"),
    ({"email": "ana@example.com", "password": "x" * 257, "role": "owner"}, "password"),
    ({"email": "ana@example.com", "password": 123456789012345, "role": "owner"}, "password"),
    ({"email": "not an e-mail", "password": PASSWORD, "role": "owner"}, "email"),
    ({"email": "ana@example.com", "password": PASSWORD, "role": "admin"}, "role"),
    ({"email": "ana@example.com", "password": PASSWORD}, "role"),
    ({"email": "ana@example.com", "role": "owner"}, "password"),
    ({"email": "ana@example.com", "password": PASSWORD, "role": "owner", "is_admin": True}, "is_admin"),
])
def test_a_bad_person_is_refused_naming_the_field_and_never_echoing_the_password(app, tenant, db_conn, body, field):
    resp = app.test_client().post(f"/api/tenants/{tenant['id']}/users", json=body, headers=ADMIN)
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field
    assert str(body.get("password")) not in resp.get_data(as_text=True)
    assert rows(db_conn, "SELECT count(*) AS n FROM users") == [{"n": 0}]


def test_a_person_in_several_tenants_keeps_their_own_password(app, tenant, make_tenant, add, tx):
    add("agency@example.com")
    other = make_tenant("other-shop", webhook_secret="other")
    resp = add("agency@example.com", role="viewer", password="another password entirely", tenant_id=other["id"])
    assert resp.status_code == 201 and resp.get_json()["new_account"] is False
    assert not isinstance(login(tx, "agency@example.com", PASSWORD), Exception)
    assert isinstance(login(tx, "agency@example.com", "another password entirely"), LoginRefused)
    assert add("agency@example.com").status_code == 409


def test_the_last_owner_cannot_be_removed(app, tenant, add):
    owner = add("ana@example.com").get_json()
    resp = app.test_client().delete(f"/api/tenants/{tenant['id']}/users/{owner['id']}", headers=ADMIN)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "last_owner"
    add("bruno@example.com")
    assert app.test_client().delete(f"/api/tenants/{tenant['id']}/users/{owner['id']}", headers=ADMIN).status_code \
        == 200


def test_an_unknown_person_is_not_found(app, tenant):
    for user_id in ("00000000-0000-4000-8000-000000000000", "nope"):
        assert app.test_client().delete(f"/api/tenants/{tenant['id']}/users/{user_id}",
                                        headers=ADMIN).status_code == 404


# ---------------------------------------------------------------- logging in


def test_a_person_logs_in_with_their_e_mail_in_any_case(add, tx):
    add("ana@example.com")
    user = login(tx, " ANA@example.COM", PASSWORD)
    assert user["email"] == "ana@example.com" and "password_hash" not in user


def test_an_unknown_e_mail_and_a_wrong_password_get_the_same_answer(add, tx):
    add("ana@example.com")
    unknown, wrong = login(tx, "nobody@example.com", PASSWORD), login(tx, "ana@example.com", "wrong password!!")
    assert isinstance(unknown, LoginRefused) and isinstance(wrong, LoginRefused)
    assert unknown.body() == wrong.body() and unknown.status == wrong.status == 401


def test_authenticate_raises_after_the_failure_is_counted(app, add, db_conn):
    add("ana@example.com")
    with app.app_context():
        with pytest.raises(LoginRefused):
            accounts.authenticate("ana@example.com", "wrong password!!", "203.0.113.5", POLICY)
        assert rows(db_conn, "SELECT count(*) AS n FROM login_failures") == [{"n": 1}]
        assert accounts.authenticate("ana@example.com", PASSWORD, "203.0.113.5", POLICY)["email"] == "ana@example.com"
    # a success clears the account's count
    assert rows(db_conn, "SELECT count(*) AS n FROM login_failures") == [{"n": 0}]


def test_logins_to_an_account_are_throttled_after_repeated_failures_even_with_the_right_password(add, tx, db_conn):
    add("ana@example.com")
    for _ in range(POLICY.max_failures_per_account):
        assert isinstance(login(tx, "ana@example.com", "a wrong password", address="198.51.100.1"), LoginRefused)
    throttled = login(tx, "ana@example.com", PASSWORD, address="198.51.100.2")
    assert isinstance(throttled, LoginThrottled) and throttled.status == 429
    assert 0 < throttled.retry_after <= POLICY.window_seconds + 1
    # a refused attempt is not counted, and the window passing lets the person in
    assert rows(db_conn, "SELECT count(*) AS n FROM login_failures") == [{"n": 3}]
    with db_conn.cursor() as cur:
        cur.execute("UPDATE login_failures SET failed_at = failed_at - interval '11 minutes'")
    assert login(tx, "ana@example.com", PASSWORD)["email"] == "ana@example.com"


def test_logins_from_an_address_are_throttled_whatever_the_account(add, tx):
    add("ana@example.com")
    for n in range(POLICY.max_failures_per_address):
        assert isinstance(login(tx, f"guess{n}@example.com", "a wrong password"), LoginRefused)
    assert isinstance(login(tx, "ana@example.com", PASSWORD), LoginThrottled)
    assert login(tx, "ana@example.com", PASSWORD, address="192.0.2.9")["email"] == "ana@example.com"


def test_the_failure_counts_are_shared_by_every_worker(service_config, add):
    """Two apps (two gunicorn workers, each with its own pool) count the same failures."""
    add("ana@example.com")
    config = {**service_config, "LOGIN_MAX_FAILURES_PER_ACCOUNT": "4"}
    workers = [create_app(config), create_app(config)]
    try:
        for n in range(4):
            with workers[n % 2].app_context(), pytest.raises(LoginRefused):
                accounts.authenticate("ana@example.com", "a wrong password", f"198.51.100.{n}")
        for worker in workers:
            with worker.app_context(), pytest.raises(LoginThrottled):
                accounts.authenticate("ana@example.com", PASSWORD, "192.0.2.1")
    finally:
        for worker in workers:
            close_pool(worker)


def test_the_e_mail_typed_at_a_failed_login_is_not_stored(tx, db_conn):
    login(tx, "my-password-typed-in-the-wrong-field", "x")
    stored = json.dumps(rows(db_conn, "SELECT * FROM login_failures"), default=str)
    assert "my-password" not in stored


# ---------------------------------------------------------------- console sessions


def start(tx, email="ana@example.com", policy=SessionPolicy()):
    user = login(tx, email, PASSWORD)
    return tx(accounts.start_session, user["id"], policy, address="203.0.113.5", user_agent="test")[0]


def test_a_session_is_kept_server_side_by_the_hash_of_its_id(add, tx, db_conn):
    add("ana@example.com")
    session_id = start(tx)
    seen = tx(accounts.session_user, session_id)
    assert seen["user"]["email"] == "ana@example.com" and [t["role"] for t in seen["tenants"]] == ["owner"]
    assert session_id not in json.dumps(rows(db_conn, "SELECT * FROM web_sessions"), default=str)
    assert tx(accounts.session_user, session_id + "x") is None
    assert tx(accounts.end_session, session_id) and tx(accounts.session_user, session_id) is None


def test_a_session_ends_when_idle_too_long_and_at_its_absolute_expiry(add, tx, db_conn):
    add("ana@example.com")
    policy = SessionPolicy(idle_seconds=60, max_age_seconds=3600)
    idle, old = start(tx, policy=policy), start(tx, policy=policy)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE web_sessions SET last_seen_at = now() - interval '61 seconds' WHERE id_hash = %s",
                    (web_sessions.id_hash(idle),))
        cur.execute("UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE id_hash = %s",
                    (web_sessions.id_hash(old),))
    assert tx(accounts.session_user, idle, policy) is None
    assert tx(accounts.session_user, old, policy) is None


def test_a_password_change_ends_every_session_of_the_person(add, tx):
    add("ana@example.com")
    sessions = [start(tx), start(tx)]
    user = tx(accounts.session_user, sessions[0])["user"]
    tx(accounts.change_password, user["id"], "a brand new long password")
    assert all(tx(accounts.session_user, s) is None for s in sessions)
    assert isinstance(login(tx, "ana@example.com", PASSWORD), LoginRefused)
    assert login(tx, "ana@example.com", "a brand new long password")["id"] == user["id"]


def test_a_removed_persons_sessions_end_at_once(app, tenant, add, tx):
    add("ana@example.com")
    bruno = add("bruno@example.com", role="agent").get_json()
    session_id = start(tx, "bruno@example.com")
    assert tx(accounts.session_user, session_id) is not None
    resp = app.test_client().delete(f"/api/tenants/{tenant['id']}/users/{bruno['id']}", headers=ADMIN)
    assert resp.status_code == 200
    assert tx(accounts.session_user, session_id) is None


def test_removing_a_person_from_one_tenant_ends_their_sessions_but_keeps_their_account(app, tenant, make_tenant,
                                                                                       add, tx, db_conn):
    other = make_tenant("other-shop", webhook_secret="other")
    add("ana@example.com")
    add("agency@example.com", role="agent")
    agency = add("agency@example.com", role="viewer", tenant_id=other["id"]).get_json()
    session_id = start(tx, "agency@example.com")
    app.test_client().delete(f"/api/tenants/{tenant['id']}/users/{agency['id']}", headers=ADMIN)
    assert tx(accounts.session_user, session_id) is None
    assert rows(db_conn, "SELECT count(*) AS n FROM users WHERE email = 'agency@example.com'") == [{"n": 1}]


# ---------------------------------------------------------------- passwords never logged


def test_passwords_are_never_logged(service_config, tenant, caplog):
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter("collision"))
    app = create_app({**service_config, "LOG_LEVEL": "DEBUG"})
    logging.getLogger().addHandler(handler)
    try:
        client = app.test_client()
        client.post(f"/api/tenants/{tenant['id']}/users", headers=ADMIN,
                    json={"email": "ana@example.com", "password": PASSWORD, "role": "owner"})
        client.post(f"/api/tenants/{tenant['id']}/users", headers=ADMIN,
                    json={"email": "bruno@example.com", "password": "tiny-secret", "role": "owner"})
        with app.app_context():
            for password in ("wrong password one", PASSWORD):
                try:
                    accounts.authenticate("ana@example.com", password, "203.0.113.5")
                except LoginRefused:
                    pass
    finally:
        logging.getLogger().removeHandler(handler)
        close_pool(app)
    logged = captured.getvalue() + "\n".join(r.getMessage() + json.dumps(getattr(r, "fields", {}))
                                            for r in caplog.records)
    assert "/users" in logged  # the requests were logged, their bodies not
    for password in (PASSWORD, "tiny-secret", "wrong password one"):
        assert password not in logged
