"""The shared pool after the server dropped its connections (a Postgres
restart): one transaction fails, and the idle connections are closed with it,
so the next transaction opens a fresh one instead of failing in turn."""
from __future__ import annotations

import psycopg2
import pytest

from python_services.collision.app import create_app
from python_services.common import db


def _hold_connections(app, n):
    """n pooled connections opened at once, then all given back (idle)."""
    pool = db.get_pool(app)
    conns = [pool.getconn() for _ in range(n)]
    for conn in conns:
        pool.putconn(conn)


def _terminate(database_url, app_name):
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s AND datname = current_database() AND pid <> pg_backend_pid()",
                    (app_name,))
    admin.close()


def test_after_the_server_drops_every_connection_only_one_transaction_fails(service_config, clean_db):
    # idle connections beyond DB_POOL_MIN are closed on return: keep three
    app = create_app({**service_config, "db_pool_min": 3, "db_pool_max": 4})
    try:
        with app.app_context():
            _hold_connections(app, 3)
            _terminate(clean_db, app.name)
            # (the rollback on the dead connection reports it as InterfaceError)
            with pytest.raises((psycopg2.OperationalError, psycopg2.InterfaceError)):
                with db.transaction() as cur:
                    cur.execute("SELECT 1")
            for _ in range(3):
                with db.transaction() as cur:
                    cur.execute("SELECT 1 AS one")
                    assert cur.fetchone()["one"] == 1
    finally:
        db.close_pool(app)


def test_retry_on_disconnect_tries_again_then_gives_up():
    waits, attempts = [], []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise psycopg2.OperationalError("connection lost")
        return "done"

    assert db.retry_on_disconnect(flaky, backoff=0.1, sleep=waits.append) == "done"
    assert waits == [0.1, 0.2]

    def broken():
        raise psycopg2.InterfaceError("connection already closed")

    with pytest.raises(psycopg2.InterfaceError):
        db.retry_on_disconnect(broken, attempts=3, sleep=waits.append)


def test_retry_on_disconnect_does_not_retry_other_errors():
    calls = []

    def wrong():
        calls.append(1)
        raise psycopg2.errors.UniqueViolation("duplicate key")

    with pytest.raises(psycopg2.IntegrityError):
        db.retry_on_disconnect(wrong, sleep=lambda s: None)
    assert calls == [1]
