"""The services' database pool on a real Postgres: connections are kept and
reused, a request waits (briefly) for a busy pool instead of failing, and when
the database cannot serve in time (no free connection, a statement or a row
lock past its timeout) the answer is a 503 `database_busy`, never a 500."""
from __future__ import annotations

import secrets
import threading

import psycopg2
import pytest
from flask import jsonify

from python_services.common import db
from python_services.common.config import Config
from python_services.common.web import create_base_app


@pytest.fixture
def make_app(service_config):
    """make_app(**overrides): a service skeleton with its own application_name,
    and two routes: /hold keeps a transaction open until `release` is set, and
    /work runs the SQL the test puts in `work`."""
    made = []

    def make(**overrides):
        app = create_base_app(f"pool-test-{secrets.token_hex(3)}", {**service_config, **overrides})
        app.release = threading.Event()
        app.holding = threading.Semaphore(0)
        app.work = ["SELECT pg_backend_pid() AS pid"]

        @app.get("/hold")
        def hold():
            with db.transaction() as cur:
                cur.execute("SELECT pg_backend_pid() AS pid")
                pid = cur.fetchone()["pid"]
                app.holding.release()
                app.release.wait(10)
            return jsonify(pid=pid)

        @app.get("/work")
        def work():
            with db.transaction() as cur:
                for sql in app.work:
                    cur.execute(sql)
                return jsonify(cur.fetchone())

        made.append(app)
        return app

    yield make
    for app in made:
        app.release.set()
        db.close_pool(app)


def _sessions_of(database_url, app) -> int:
    admin = psycopg2.connect(database_url)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                        " AND datname = current_database()", (app.name,))
            return cur.fetchone()[0]
    finally:
        admin.close()


def _backend_pid(app) -> int:
    with app.app_context(), db.transaction() as cur:
        cur.execute("SELECT pg_backend_pid() AS pid")
        return cur.fetchone()["pid"]


def _database_busy_message(answer) -> str:
    """The message of a 503 `database_busy` answer (asserted to be one)."""
    assert answer.status_code == 503
    error = answer.get_json()["error"]
    assert error["code"] == "database_busy"
    return error["message"]


def _in_thread(fn) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
def scratch_table(db_conn):
    with db_conn.cursor() as cur:
        cur.execute("CREATE TABLE pool_test_rows (id int PRIMARY KEY, note text)")
        cur.execute("INSERT INTO pool_test_rows VALUES (1, 'before')")
    yield "pool_test_rows"
    with db_conn.cursor() as cur:
        cur.execute("DROP TABLE pool_test_rows")


# ---------------------------------------------------------------- reuse


def test_one_request_after_another_uses_one_database_session(make_app, clean_db):
    app = make_app(db_pool_max=4)
    pids = {_backend_pid(app) for _ in range(50)}
    assert len(pids) == 1
    assert _sessions_of(clean_db, app) == 1


def test_a_burst_of_concurrent_requests_opens_no_more_sessions_than_the_pool_holds(make_app, clean_db):
    app = make_app(db_pool_max=4)
    client = app.test_client()
    pids, statuses, lock = set(), [], threading.Lock()

    def requests():
        for _ in range(40):
            answer = client.get("/work")
            with lock:
                statuses.append(answer.status_code)
                pids.add(answer.get_json()["pid"])

    threads = [threading.Thread(target=requests) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [200] * 320
    assert 1 <= len(pids) <= 4
    assert _sessions_of(clean_db, app) == len(pids)


def test_the_pool_holds_as_many_connections_as_gunicorn_has_threads(tmp_path):
    no_file = tmp_path / "absent.env"
    assert Config.from_env({}, env_file=no_file).db_pool_max == 8
    assert Config.from_env({"GUNICORN_THREADS": "16"}, env_file=no_file).db_pool_max == 16
    assert Config.from_env({"GUNICORN_THREADS": "16", "DB_POOL_MAX": "4"}, env_file=no_file).db_pool_max == 4


# ---------------------------------------------------------------- waiting


def test_when_every_connection_is_busy_a_request_waits_for_one_to_come_back(make_app, clean_db):
    app = make_app(db_pool_max=2, db_pool_timeout=10)
    holders = [_in_thread(lambda: app.test_client().get("/hold")) for _ in range(2)]
    for _ in holders:
        assert app.holding.acquire(timeout=10)

    waiter, answers = _in_thread(lambda: app.test_client().get("/work"))
    waiter.join(0.5)
    assert waiter.is_alive()  # waiting for a connection, not failed

    app.release.set()
    waiter.join(10)
    for thread, _ in holders:
        thread.join(10)
    [answer] = answers
    assert answer.status_code == 200
    held = {out[0].get_json()["pid"] for _, out in holders}
    assert answer.get_json()["pid"] in held  # a connection given back, not a new one
    assert _sessions_of(clean_db, app) == 2


def test_a_request_that_finds_no_free_connection_in_time_gets_503_database_busy(make_app):
    app = make_app(db_pool_max=1, db_pool_timeout=0.3)
    holder, _ = _in_thread(lambda: app.test_client().get("/hold"))
    assert app.holding.acquire(timeout=10)

    answer = app.test_client().get("/work")
    message = _database_busy_message(answer)
    assert "busy" in message and "try again" in message
    assert answer.headers["Retry-After"] == "1"

    app.release.set()
    holder.join(10)
    assert app.test_client().get("/work").status_code == 200


def test_health_reports_a_busy_pool_as_not_ok_instead_of_hanging(make_app):
    app = make_app(db_pool_max=1, db_pool_timeout=0.2)
    holder, _ = _in_thread(lambda: app.test_client().get("/hold"))
    assert app.holding.acquire(timeout=10)
    answer = app.test_client().get("/health")
    assert answer.status_code == 503
    database = answer.get_json()["checks"]["database"]
    assert (database["ok"], database["error"]) == (False, "DatabaseBusy")
    app.release.set()
    holder.join(10)


# ---------------------------------------------------------------- timeouts


def test_a_statement_past_the_statement_timeout_is_rolled_back_and_answered_503(make_app, scratch_table, db_conn):
    app = make_app(db_statement_timeout_ms=200)
    pid = _backend_pid(app)
    app.work = [f"UPDATE {scratch_table} SET note = 'half-written' WHERE id = 1",
                "SELECT pg_sleep(2)"]

    message = _database_busy_message(app.test_client().get("/work"))
    assert "ran too long" in message and "nothing was written" in message
    with db_conn.cursor() as cur:
        cur.execute(f"SELECT note FROM {scratch_table} WHERE id = 1")
        assert cur.fetchone()["note"] == "before"
    # the connection survived the cancel: the pool still hands out the same one
    assert _backend_pid(app) == pid


def test_a_row_lock_held_past_the_lock_timeout_is_answered_503_and_nothing_is_written(
        make_app, scratch_table, db_conn, clean_db):
    app = make_app(db_lock_timeout_ms=200)
    app.work = [f"INSERT INTO {scratch_table} VALUES (2, 'new')",
                f"SELECT * FROM {scratch_table} WHERE id = 1 FOR UPDATE"]
    blocker = psycopg2.connect(clean_db)
    try:
        blocker.cursor().execute(f"SELECT 1 FROM {scratch_table} WHERE id = 1 FOR UPDATE")
        answer = app.test_client().get("/work")
    finally:
        blocker.rollback()
        blocker.close()

    assert "row another request holds" in _database_busy_message(answer)
    with db_conn.cursor() as cur:
        cur.execute(f"SELECT count(*) AS n FROM {scratch_table}")
        assert cur.fetchone()["n"] == 1
    assert app.test_client().get("/work").status_code == 200


def test_every_connection_carries_the_configured_timeouts(make_app):
    app = make_app(db_statement_timeout_ms=1234, db_lock_timeout_ms=567)
    with app.app_context(), db.transaction() as cur:
        cur.execute("SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt")
        assert cur.fetchone() == {"st": "1234ms", "lt": "567ms"}
