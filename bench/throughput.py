"""Closed loops: `concurrency` conversations at a time, each posting a
customer's message straight to n8n's /webhook/evolution and waiting for the
reply's sendText at the sandbox before its next message. The latency of a
message is the sandbox's arrival time of the sendText minus the time the
webhook was posted (same machine, same clock)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .common import (ReplyWatcher, Tenant, WebhookClient, customer_body, next_marker, percentile, question,
                     say)


@dataclass
class LoopResult:
    concurrency: int
    sent: int = 0
    replies: int = 0
    refused: int = 0          # webhooks n8n did not answer 200
    lost: list = field(default_factory=list)       # markers with no reply in time
    latencies_ms: list = field(default_factory=list)
    elapsed: float = 0.0
    markers: list = field(default_factory=list)
    refused_markers: list = field(default_factory=list)
    # what the refused webhooks were answered: "503: {...}" -> count
    refusals: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.replies / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float | None:
        return percentile(self.latencies_ms, p)


def closed_loop(stack, watcher: ReplyWatcher, chats: list[tuple[Tenant, str]], concurrency: int, messages: int,
                max_seconds: float, reply_timeout: float = 30.0, label: str = "") -> LoopResult:
    """`messages` in all (fewer if max_seconds runs out), `concurrency` at a time;
    worker w talks in chats w, w+c, w+2c, ... so no two workers share a chat."""
    result = LoopResult(concurrency)
    client = WebhookClient()
    url = stack.url("n8n") + "/webhook/evolution"
    lock = threading.Lock()
    budget = iter(range(messages))
    started = time.monotonic()
    deadline = started + max_seconds
    last_reply = [started]

    def take() -> bool:
        with lock:
            return next(budget, None) is not None and time.monotonic() < deadline

    def worker(w: int) -> None:
        mine = chats[w::concurrency] or [chats[w % len(chats)]]
        i = 0
        while take():
            tenant, number = mine[i % len(mine)]
            i += 1
            marker = next_marker()
            _, body = customer_body(stack, tenant, number, question(marker))
            status, t0, _ = client.post(url, body, tenant.secret)
            with lock:
                result.sent += 1
                result.markers.append(marker)
            if status != 200:
                answer = f"{status}: {client.last_text[:120]}"
                with lock:
                    result.refused += 1
                    result.refused_markers.append(marker)
                    result.refusals[answer] = result.refusals.get(answer, 0) + 1
                continue
            reply = watcher.wait_for(marker, reply_timeout)
            with lock:
                if reply is None:
                    result.lost.append(marker)
                else:
                    result.replies += 1
                    result.latencies_ms.append((reply.received_at - t0) * 1000)
                    last_reply[0] = max(last_reply[0], time.monotonic())

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + reply_timeout + 30)
    result.elapsed = last_reply[0] - started
    say(f"{label or 'loop'} c={concurrency}: {result.replies}/{result.sent} replies in {result.elapsed:.1f}s "
        f"= {result.rate:.1f}/s; p50 {_ms(result.pct(50))} p99 {_ms(result.pct(99))}; lost {len(result.lost)}, "
        f"refused {result.refused}" + (f" ({result.refusals})" if result.refusals else ""))
    return result


def _ms(v) -> str:
    return "-" if v is None else f"{v:.0f}ms"


def duplicates(watcher: ReplyWatcher, markers) -> int:
    """Replies sent more than once for the same message."""
    return sum(max(0, len(watcher.replies_for(m)) - 1) for m in markers)


@dataclass
class TrivialResult:
    concurrency: int
    requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0


def request_loop(new_client, concurrency: int, seconds: float, max_requests: int | None = None) -> TrivialResult:
    """A closed loop of plain requests: `concurrency` clients, each sending the
    next request when its answer is in, for `seconds` (or until max_requests
    were made). new_client() is called in each client's thread (a keep-alive
    session of its own) and returns the function that makes one request and
    says (answered 200, milliseconds)."""
    result = TrivialResult(concurrency)
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds

    def worker() -> None:
        one = new_client()
        while time.monotonic() < deadline:
            if max_requests is not None:
                with lock:
                    if result.requests + result.errors >= max_requests:
                        return
            ok, ms = one()
            with lock:
                if ok:
                    result.requests += 1
                    result.latencies_ms.append(ms)
                else:
                    result.errors += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    result.elapsed = time.monotonic() - started
    return result


def trivial_loop(stack, body: dict, concurrency: int, seconds: float, max_requests: int) -> TrivialResult:
    """The ceiling: Webhook -> Respond on the same n8n, the same body, closed loop."""
    client = WebhookClient()
    url = stack.url("n8n") + "/webhook/bench-trivial"

    def one() -> tuple[bool, float]:
        status, t0, t1 = client.post(url, body, timeout=30)
        return status == 200, (t1 - t0) * 1000

    result = request_loop(lambda: one, concurrency, seconds, max_requests)
    say(f"trivial workflow c={concurrency}: {result.requests} requests in {result.elapsed:.1f}s = "
        f"{result.rate:.1f}/s (errors {result.errors})")
    return result
