"""The database helper: one bounded pool per process (common/pool.py), opened
on first use (so after gunicorn forks), a connection per transaction, given
back at once.

The pool keeps every connection it opens, up to DB_POOL_MAX (by default the
worker's thread count, so a worker never waits for itself). When all are busy a
transaction waits up to DB_POOL_TIMEOUT_SECONDS for one to come back, then
raises DatabaseBusy, which the services answer 503 `database_busy`.

Every connection carries a statement timeout (DB_STATEMENT_TIMEOUT_MS) and a
lock timeout (DB_LOCK_TIMEOUT_MS). When either fires:
- Postgres cancels the statement (QueryCanceled, or LockNotAvailable for a row
  lock that did not come in time: a `SELECT ... FOR UPDATE` on a chat's session
  or a reply token while another request holds it);
- transaction() rolls the whole transaction back: nothing of it is written,
  no lock is left held, and the connection stays in the pool;
- the service answers 503 `database_busy` (errors.py), never a 500. On the
  webhook path the caller (n8n) fails its execution, Evolution gets an error
  instead of a 2xx and delivers the webhook again (it retries a 5xx, not a
  4xx); the retry starts from the state before the cancelled transaction, so
  idempotency by wa_message_id holds. On a later step (reply, send) the
  flow's error branch and the recovery flow take the reply up again.
"""
from __future__ import annotations

import atexit
import threading
import time
import weakref
from contextlib import contextmanager

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from flask import current_app, g, has_request_context

from .pool import DatabaseBusy, Pool

psycopg2.extras.register_uuid()

_POOL_KEY = "hybridflow_db_pool"
_pool_lock = threading.Lock()
# every pool this process opened, so that exit (and a test's teardown) closes
# them all; weak, so an app that is gone takes its pool along
_open_pools: "weakref.WeakSet[Pool]" = weakref.WeakSet()

# the server cancelled a statement (a timeout, a deadlock): the transaction is
# rolled back, the connection itself is fine and goes back to the pool
_STATEMENT_REFUSED = (
    psycopg2.errors.QueryCanceled,
    psycopg2.errors.LockNotAvailable,
    psycopg2.extensions.TransactionRollbackError,
)


# what the services answer 503 `database_busy` (see errors.py)
BUSY_ERRORS = (DatabaseBusy, psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable)


def busy_message(err: Exception) -> str:
    """The 503's message: what happened, and that retrying is safe."""
    if isinstance(err, DatabaseBusy):
        return f"{err}; nothing was written, try again"
    if isinstance(err, psycopg2.errors.LockNotAvailable):
        return ("the database waited too long for a row another request holds (DB_LOCK_TIMEOUT_MS); "
                "the transaction was rolled back, nothing was written, try again")
    return ("a database statement ran too long and was cancelled (DB_STATEMENT_TIMEOUT_MS); "
            "the transaction was rolled back, nothing was written, try again")


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


def _connection_options(database_url: str, cfg) -> str:
    """libpq `options` for every new connection: the timeouts after any options
    the URL carries already."""
    given = psycopg2.extensions.parse_dsn(database_url).get("options", "")
    ours = f"-c statement_timeout={cfg.db_statement_timeout_ms} -c lock_timeout={cfg.db_lock_timeout_ms}"
    return f"{given} {ours}".strip()


def init_app(app) -> None:
    # opened on first use, never at import or app creation: gunicorn forks
    # after create_app(), and each worker must open its own
    app.extensions[_POOL_KEY] = None


def close_all_pools() -> None:
    for pool in list(_open_pools):
        if not pool.closed:
            pool.closeall()


atexit.register(close_all_pools)


def get_pool(app=None) -> Pool:
    app = app or current_app._get_current_object()
    pool = app.extensions.get(_POOL_KEY)
    if pool is None:
        with _pool_lock:
            pool = app.extensions.get(_POOL_KEY)
            if pool is None:
                cfg = app.config["HF"]
                connect_args = {
                    "cursor_factory": TimedCursor,
                    "application_name": app.name,
                    "options": _connection_options(cfg.database_url, cfg),
                }
                pool = Pool(cfg.db_pool_min, cfg.db_pool_max, cfg.db_pool_timeout,
                            connect=lambda: psycopg2.connect(cfg.database_url, **connect_args))
                app.extensions[_POOL_KEY] = pool
                _open_pools.add(pool)
    return pool


def close_pool(app) -> None:
    pool = app.extensions.get(_POOL_KEY)
    if pool is not None:
        app.extensions[_POOL_KEY] = None
        if not pool.closed:
            pool.closeall()


def _connection_lost(conn, err: Exception) -> bool:
    """The connection itself broke (not a statement the server refused)."""
    if conn.closed:
        return True
    return isinstance(err, (psycopg2.OperationalError, psycopg2.InterfaceError)) \
        and not isinstance(err, _STATEMENT_REFUSED)


@contextmanager
def transaction(app=None):
    """A cursor inside one short transaction: committed on success, rolled back
    on any exception (a statement or lock timeout included: see the top of this
    module); the connection goes back to the pool either way."""
    pool = get_pool(app)
    started = time.perf_counter()
    try:
        conn = pool.getconn()
    finally:
        _add_db_time(time.perf_counter() - started)  # the wait for a connection counts
    broken = False
    try:
        with conn:  # commit / rollback
            with conn.cursor() as cur:
                yield cur
            started = time.perf_counter()
        _add_db_time(time.perf_counter() - started)  # the commit
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as err:
        broken = _connection_lost(conn, err)
        raise
    finally:
        pool.putconn(conn, close=broken or conn.closed != 0)
        if broken:
            _drop_idle(pool)


def _drop_idle(pool) -> None:
    """A connection broke (the server restarted, or dropped us): the idle ones
    in the pool are most likely dead too. Closing them now lets the next
    transactions open fresh connections instead of each failing once."""
    pool.drop_idle()


def retry_on_disconnect(fn, *, attempts: int = 5, backoff: float = 0.2, sleep=time.sleep):
    """fn() again when the database connection broke (a server restart takes a
    moment): for a step that must land, such as recording a send that happened.
    A lock or statement timeout (an OperationalError too) is tried again as
    well: the step must land, and the next attempt may find the row free."""
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
