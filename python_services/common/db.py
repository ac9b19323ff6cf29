"""The database helper: one thread-safe pool per process, opened on first use
(so after gunicorn forks), a connection per transaction, given back at once."""
from __future__ import annotations

import atexit
import threading
import time
import weakref
from contextlib import contextmanager

import psycopg2
import psycopg2.extras
import psycopg2.pool
from flask import current_app, g, has_request_context

psycopg2.extras.register_uuid()

_POOL_KEY = "hybridflow_db_pool"
_pool_lock = threading.Lock()
# every pool this process opened, so that exit (and a test's teardown) closes
# them all; weak, so an app that is gone takes its pool along
_open_pools: "weakref.WeakSet[psycopg2.pool.ThreadedConnectionPool]" = weakref.WeakSet()


def _add_db_time(seconds: float) -> None:
    # the request's time in Postgres, for its log line (db_ms)
    if has_request_context():
        g.db_ms = g.get("db_ms", 0.0) + seconds * 1000


class TimedCursor(psycopg2.extras.RealDictCursor):
    """A RealDictCursor that adds the time of each statement to the request's db_ms."""

    def execute(self, query, vars=None):
        started = time.perf_counter()
        try:
            return super().execute(query, vars)
        finally:
            _add_db_time(time.perf_counter() - started)


def init_app(app) -> None:
    # opened on first use, never at import or app creation: gunicorn forks
    # after create_app(), and each worker must open its own
    app.extensions[_POOL_KEY] = None


def close_all_pools() -> None:
    for pool in list(_open_pools):
        if not pool.closed:
            pool.closeall()


atexit.register(close_all_pools)


def get_pool(app=None) -> psycopg2.pool.ThreadedConnectionPool:
    app = app or current_app._get_current_object()
    pool = app.extensions.get(_POOL_KEY)
    if pool is None:
        with _pool_lock:
            pool = app.extensions.get(_POOL_KEY)
            if pool is None:
                cfg = app.config["HF"]
                pool = psycopg2.pool.ThreadedConnectionPool(
                    cfg.db_pool_min, cfg.db_pool_max, cfg.database_url,
                    cursor_factory=TimedCursor,
                    application_name=app.name,
                )
                app.extensions[_POOL_KEY] = pool
                _open_pools.add(pool)
    return pool


def close_pool(app) -> None:
    pool = app.extensions.get(_POOL_KEY)
    if pool is not None:
        app.extensions[_POOL_KEY] = None
        if not pool.closed:
            pool.closeall()


@contextmanager
def transaction(app=None):
    """A cursor inside one short transaction: committed on success, rolled back
    on any exception; the connection goes back to the pool either way."""
    pool = get_pool(app)
    started = time.perf_counter()
    conn = pool.getconn()
    _add_db_time(time.perf_counter() - started)
    broken = False
    try:
        with conn:  # commit / rollback
            with conn.cursor() as cur:
                yield cur
            started = time.perf_counter()
        _add_db_time(time.perf_counter() - started)  # the commit
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        broken = True
        raise
    finally:
        pool.putconn(conn, close=broken or conn.closed != 0)
        if broken:
            _drop_idle(pool)


def _drop_idle(pool) -> None:
    """A connection broke (the server restarted, or dropped us): the idle ones
    in the pool are most likely dead too. Closing them now lets the next
    transactions open fresh connections instead of each failing once."""
    idle = getattr(pool, "_pool", None)  # psycopg2's list of idle connections
    lock = getattr(pool, "_lock", None)
    if idle is None or lock is None:
        return
    with lock:
        stale, idle[:] = list(idle), []
    for conn in stale:
        try:
            conn.close()
        except psycopg2.Error:
            pass


def retry_on_disconnect(fn, *, attempts: int = 5, backoff: float = 0.2, sleep=time.sleep):
    """fn() again when the database connection broke (a server restart takes a
    moment): for a step that must land, such as recording a send that happened."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            if attempt == attempts:
                raise
            sleep(backoff * (2 ** (attempt - 1)))


def ping(app=None) -> None:
    with transaction(app) as cur:
        cur.execute("SELECT 1")
