"""Delivering webhooks the way Evolution API 2.3 does (its
webhook.controller.ts, retryWebhookRequest): a connection error, a time-out
or any status it does not list as final is tried again after a backoff that
doubles (with jitter); 400, 401, 403, 404 and 422 are final (the message is
dropped); any 2xx is delivered. Its defaults are 10 attempts from 5 s up to
300 s (WEBHOOK_RETRY_*); tests and the bench scale the delays down.

Used by the restart test (tests/flow/test_restart_through_the_door.py) and
`python -m bench.door`: a steady stream through the door while n8n is killed
and started again must lose nothing and record nothing twice."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

NON_RETRYABLE = (400, 401, 403, 404, 422)


@dataclass
class Policy:
    attempts: int = 10
    initial_delay: float = 5.0
    max_delay: float = 300.0
    jitter: float = 0.2
    timeout: float = 30.0

    def delay(self, attempt: int) -> float:
        """Seconds before the next try after `attempt` failed ones (Evolution's formula)."""
        delay = min(self.initial_delay * 2 ** (attempt - 1), self.max_delay)
        delay += delay * self.jitter * (random.random() * 2 - 1)
        return max(self.initial_delay, delay)


# Evolution's schedule, 10x faster: a message is tried for about a minute and a half
FAST = Policy(attempts=10, initial_delay=0.5, max_delay=30.0, timeout=30.0)


@dataclass
class Outcome:
    message_id: str
    delivered: bool = False
    dropped_status: int | None = None   # a final 4xx: Evolution gives the message up
    attempts: int = 0
    answers: list = field(default_factory=list)   # each try: a status, or the error's name
    seconds: float = 0.0


def deliver(session: requests.Session, url: str, body: dict, headers: dict, policy: Policy = FAST) -> Outcome:
    outcome = Outcome(body.get("data", {}).get("key", {}).get("id", "?"))
    started = time.monotonic()
    while outcome.attempts < policy.attempts:
        outcome.attempts += 1
        try:
            resp = session.post(url, json=body, headers=headers, timeout=policy.timeout)
            outcome.answers.append(resp.status_code)
            if 200 <= resp.status_code < 300:
                outcome.delivered = True
                break
            if resp.status_code in NON_RETRYABLE:
                outcome.dropped_status = resp.status_code
                break
        except requests.RequestException as exc:
            outcome.answers.append(type(exc).__name__)
        if outcome.attempts < policy.attempts:
            time.sleep(policy.delay(outcome.attempts))
    outcome.seconds = time.monotonic() - started
    return outcome


@dataclass
class StreamResult:
    sent: int = 0
    outcomes: list = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(1 for o in self.outcomes if o.delivered)

    @property
    def dropped(self) -> list:
        return [o for o in self.outcomes if o.dropped_status is not None]

    @property
    def given_up(self) -> list:
        return [o for o in self.outcomes if not o.delivered and o.dropped_status is None]

    @property
    def retried(self) -> int:
        return sum(1 for o in self.outcomes if o.attempts > 1)

    def answers(self) -> Counter:
        return Counter(a for o in self.outcomes for a in o.answers)

    def slowest(self) -> float:
        return max((o.seconds for o in self.outcomes), default=0.0)


class Stream:
    """Posts make_body(i) every `interval` seconds (each in a thread of its own,
    as Evolution's events are independent) until stop(); result() waits for every
    message's last try."""

    def __init__(self, url: str, headers: dict, make_body, interval: float = 0.25, policy: Policy = FAST,
                 threads: int = 32):
        self.url, self.headers, self.make_body = url, headers, make_body
        self.interval, self.policy = interval, policy
        self._pool = ThreadPoolExecutor(threads)
        self._futures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._local = threading.local()
        self.result_ = StreamResult()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "s"):
            self._local.s = requests.Session()
        return self._local.s

    def _one(self, body):
        return deliver(self._session(), self.url, body, self.headers, self.policy)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            self._futures.append(self._pool.submit(self._one, self.make_body(i)))
            i += 1
            self._stop.wait(self.interval)

    def start(self) -> "Stream":
        self._thread.start()
        return self

    def stop(self) -> StreamResult:
        self._stop.set()
        self._thread.join()
        self.result_.outcomes = [f.result() for f in self._futures]
        self.result_.sent = len(self._futures)
        self._pool.shutdown()
        return self.result_
