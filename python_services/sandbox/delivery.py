"""Webhook delivery in background threads, so an API answer never waits for
the receiver. Deliveries of one chat go through one thread, in order (a
customer's quick messages arrive in the order typed); chats spread over a few
threads. Failures are retried a little (connection errors, 5xx), never 4xx,
as Evolution does; every attempt's outcome is kept for tests and the page."""
from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections import deque

import requests

from ..common.logs import log_event

log = logging.getLogger("hybridflow.sandbox.delivery")


class Deliverer:
    def __init__(self, *, threads: int = 4, timeout: float = 30.0, attempts: int = 3, backoff: float = 0.2,
                 keep: int = 2000):
        self.threads = max(1, threads)
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._queues = [queue.Queue() for _ in range(self.threads)]
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._seq = 0
        self.results: deque = deque(maxlen=keep)
        self._local = threading.local()

    # ---- queueing ----------------------------------------------------------
    def enqueue(self, shard_key: str, url: str, headers: dict, bodies: list[dict]) -> None:
        """Deliver the bodies (in order) later, in the chat's own thread."""
        self._start()
        with self._lock:
            self._pending += 1
        shard = zlib.crc32(shard_key.encode()) % self.threads
        self._queues[shard].put((url, headers, bodies))

    def deliver_now(self, url: str, headers: dict, bodies: list[dict]) -> list[dict]:
        """Deliver in the calling thread (the 'echo before answering' mode)."""
        return [self._post(url, headers, body) for body in bodies]

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def clear_results(self) -> None:
        with self._lock:
            self.results.clear()

    # ---- the threads -------------------------------------------------------
    def _start(self) -> None:
        # started on first use, so after gunicorn forks the worker
        if self._workers:
            return
        with self._lock:
            if self._workers:
                return
            for n, q in enumerate(self._queues):
                t = threading.Thread(target=self._run, args=(q,), name=f"sandbox-webhooks-{n}", daemon=True)
                t.start()
                self._workers.append(t)

    def _run(self, q: queue.Queue) -> None:
        while True:
            url, headers, bodies = q.get()
            try:
                for body in bodies:
                    self._post(url, headers, body)
            except Exception:  # a delivery thread must survive anything
                log.exception("webhook delivery crashed")
            finally:
                with self._idle:
                    self._pending -= 1
                    if not self._pending:
                        self._idle.notify_all()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def _post(self, url: str, headers: dict, body: dict) -> dict:
        started = time.perf_counter()
        status, error, attempt = None, None, 0
        for attempt in range(1, self.attempts + 1):
            try:
                resp = self._session().post(url, json=body, headers=headers, timeout=self.timeout)
                status, error = resp.status_code, None
                if resp.status_code < 500:
                    break
                error = resp.text[:300]
            except requests.RequestException as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"[:300]
            if attempt < self.attempts:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
        data = body.get("data") or {}
        with self._lock:
            self._seq += 1
            result = {
                "seq": self._seq, "event": body.get("event"), "instance": body.get("instance"),
                "message_id": (data.get("key") or {}).get("id"), "url": url, "status": status,
                "ok": status is not None and status < 400, "attempts": attempt, "error": error,
                "ms": round((time.perf_counter() - started) * 1000, 1), "body": body,
            }
            self.results.append(result)
        log_event(log, "webhook delivered" if result["ok"] else "webhook delivery failed",
                  logging.INFO if result["ok"] else logging.WARNING,
                  event=result["event"], instance=result["instance"], message_id=result["message_id"],
                  status=status, attempts=attempt, error=error, duration_ms=result["ms"])
        return result
