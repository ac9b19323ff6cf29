"""A bounded pool of database connections that keeps what it opens and waits
(briefly) for one to come back when all are busy.

psycopg2's own pools keep only `minconn` idle connections, so each request
beyond them opened a new Postgres session, and they fail at once when full.
This one keeps every connection it opens, up to `maxconn`; when all are in
use getconn() waits up to `timeout` seconds and then raises DatabaseBusy
(the services answer 503 `database_busy`). The getconn/putconn/closeall
names are psycopg2's. Nothing here knows Flask: common/db.py opens one pool
per app and hands out its connections per transaction; `watchers` are told
of every change (common/metrics.py's gauges of connections in use and open)."""
from __future__ import annotations

import threading
import time

import psycopg2
import psycopg2.extensions
import psycopg2.pool


# callables given the pool after each change in its connections (opened, handed out, given back, closed)
watchers: list = []


class DatabaseBusy(psycopg2.pool.PoolError):
    """No pooled connection came free within DB_POOL_TIMEOUT_SECONDS."""


class Pool:
    """Up to `maxconn` connections made by `connect()`, `minconn` of them
    opened with the pool. getconn() hands out an idle one, else opens one
    while under `maxconn`, else waits up to `timeout` seconds for one to come
    back and then raises DatabaseBusy."""

    def __init__(self, minconn: int, maxconn: int, timeout: float, *, connect):
        if maxconn < 1:
            raise ValueError(f"DB_POOL_MAX must be at least 1, got {maxconn}")
        if timeout < 0:
            raise ValueError(f"DB_POOL_TIMEOUT_SECONDS must not be negative, got {timeout}")
        self.minconn = max(0, min(minconn, maxconn))
        self.maxconn = maxconn
        self.timeout = timeout
        self._connect = connect
        self._cond = threading.Condition()
        self._idle: list = []  # the most recently returned last: reused first
        self._in_use: set = set()
        self._opening = 0  # connects under way, outside the lock
        self.closed = False
        try:
            for _ in range(self.minconn):
                self._idle.append(self._connect())
        except BaseException:
            self.closeall()
            raise
        self._changed()

    @property
    def size(self) -> int:
        """Connections open or being opened."""
        return len(self._idle) + len(self._in_use) + self._opening

    @property
    def in_use(self) -> int:
        """Connections handed out and not given back yet."""
        return len(self._in_use)

    def _changed(self) -> None:
        for watch in watchers:
            watch(self)

    def getconn(self, timeout: float | None = None):
        conn = self._getconn(timeout)
        self._changed()
        return conn

    def _getconn(self, timeout: float | None):
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self.closed:
                    raise psycopg2.pool.PoolError("connection pool is closed")
                if self._idle:
                    conn = self._idle.pop()
                    self._in_use.add(conn)
                    return conn
                if self.size < self.maxconn:
                    self._opening += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DatabaseBusy(f"all {self.maxconn} database connections stayed busy "
                                       f"for {timeout:g} s (DB_POOL_MAX, DB_POOL_TIMEOUT_SECONDS)")
                self._cond.wait(left)
        try:
            conn = self._connect()
        except BaseException:
            with self._cond:
                self._opening -= 1
                self._cond.notify()  # the place is free again: a waiter may open it
            self._changed()
            raise
        with self._cond:
            self._opening -= 1
            if self.closed:
                conn.close()
                raise psycopg2.pool.PoolError("connection pool is closed")
            self._in_use.add(conn)
        return conn

    def putconn(self, conn, close: bool = False) -> None:
        """Back to the pool, rolled back if a transaction is still open; closed
        instead when asked, or when it is broken."""
        with self._cond:
            if conn not in self._in_use:
                if self.closed:  # closeall() closed it meanwhile
                    return
                raise psycopg2.pool.PoolError("trying to put back a connection this pool did not give out")
            self._in_use.discard(conn)
        keep = not close and not self.closed and self._reset(conn)
        with self._cond:
            if keep and not self.closed:
                self._idle.append(conn)
            else:
                _close_quietly(conn)
            self._cond.notify()
        self._changed()

    @staticmethod
    def _reset(conn) -> bool:
        """Whether conn is fit to hand out again (rolled back if needed)."""
        if conn.closed:
            return False
        status = conn.info.transaction_status
        if status == psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            return True
        if status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN:
            return False
        try:
            conn.rollback()
        except psycopg2.Error:
            return False
        return True

    def drop_idle(self) -> None:
        """Closes every idle connection (the ones in use close when given back broken)."""
        with self._cond:
            stale, self._idle = self._idle, []
            self._cond.notify_all()
        for conn in stale:
            _close_quietly(conn)
        self._changed()

    def closeall(self) -> None:
        """Closes every connection, idle and in use (as psycopg2's pools do)."""
        with self._cond:
            self.closed = True
            stale = self._idle + list(self._in_use)
            self._idle, self._in_use = [], set()
            self._cond.notify_all()
        for conn in stale:
            _close_quietly(conn)
        self._changed()


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except psycopg2.Error:
        pass
