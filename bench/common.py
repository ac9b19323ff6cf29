"""What every phase of the benchmark shares: progress lines, the tenants on
the sandbox, Evolution webhook bodies, a keep-alive webhook client, sending
on a schedule, and a watcher that follows every sendText the sandbox receives."""
from __future__ import annotations

import itertools
import math
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from ops.tenants import onboard_tenant
from python_services.sandbox import payloads

STARTED = time.monotonic()
MARKER = re.compile(r"\[m(\d+)\]")
_markers = itertools.count(1)
_numbers = itertools.count(5521900000001)


def say(msg: str) -> None:
    """A progress line, with the time since the start of the run."""
    print(f"[bench {time.monotonic() - STARTED:6.0f}s] {msg}", flush=True)


def next_marker() -> int:
    return next(_markers)


def new_number() -> str:
    return str(next(_numbers))


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


# ---------------------------------------------------------------- tenants


@dataclass
class Tenant:
    id: str
    instance: str
    secret: str
    instance_id: str
    owner_number: str
    apikey: str


def make_tenant(stack, name: str, settings: dict | None = None) -> Tenant:
    """A tenant on the sandbox, connected to n8n (the webhook set with its secret)."""
    made = requests.post(stack.url("sandbox") + "/sandbox/instances",
                         json={"instance": name, "business_name": "Bench Shop"}, timeout=10)
    made.raise_for_status()
    inst = made.json()
    body = {
        "instance_name": name,
        "business_name": "Bench Shop",
        "evo_server_url": stack.url("sandbox"),
        "evo_api_key": stack.env["SANDBOX_API_KEY"],
        "system_prompt": "You are the assistant of {business_name}.",
        "llm_provider": "anthropic",
        "llm_model": "claude-bench",
        "settings": {"debounce_seconds": 0, "typing": False, **(settings or {})},
    }
    tenant, secret = onboard_tenant(stack.url("collision"), stack.env["ADMIN_TOKEN"], body, stack.webhook_url)
    return Tenant(str(tenant["id"]), name, secret, inst["instance_id"],
                  inst.get("owner_number") or "5511999990000", stack.env["SANDBOX_API_KEY"])


# ---------------------------------------------------------------- webhook bodies


def _envelope(stack, tenant: Tenant, data: dict) -> dict:
    return payloads.envelope(event="messages.upsert", instance=tenant.instance, data=data,
                             destination=stack.url("n8n") + "/webhook/evolution",
                             sender=payloads.phone_jid(tenant.owner_number),
                             server_url=stack.url("sandbox"), apikey=tenant.apikey)


def customer_body(stack, tenant: Tenant, number: str, text: str) -> tuple[str, dict]:
    msg_id = payloads.customer_message_id()
    data = payloads.customer_message(number=number, text=text, msg_id=msg_id, push_name="Bench Customer",
                                     timestamp=int(time.time()), instance_id=tenant.instance_id)
    return msg_id, _envelope(stack, tenant, data)


def owner_body(stack, tenant: Tenant, number: str, text: str) -> tuple[str, dict]:
    """The business typing on its phone: a fromMe upsert with a phone's message id."""
    msg_id = payloads.phone_message_id()
    data = payloads.owner_message(number=number, text=text, msg_id=msg_id, push_name="Bench Shop",
                                  timestamp=int(time.time()), instance_id=tenant.instance_id)
    return msg_id, _envelope(stack, tenant, data)


def question(marker: int) -> str:
    # the fake LLM answers "fake reply to: <text>", so the reply names its message
    return f"do you have size {marker % 45} in blue? [m{marker}]"


# ---------------------------------------------------------------- the client


class WebhookClient:
    """Posts to n8n from many threads, a keep-alive session per thread."""

    def __init__(self):
        self._local = threading.local()

    def session(self) -> requests.Session:
        s = getattr(self._local, "s", None)
        if s is None:
            s = self._local.s = requests.Session()
        return s

    def post(self, url: str, body, secret: str | None = None, timeout: float = 60,
             headers: dict | None = None) -> tuple[int | None, float, float]:
        """(status or None on a connection error, sent at, answered at) in epoch seconds."""
        sent_headers = {**({"X-Webhook-Secret": secret} if secret is not None else {}), **(headers or {})}
        t0 = time.time()
        try:
            if isinstance(body, (bytes, str)):
                resp = self.session().post(url, data=body, timeout=timeout,
                                           headers={"Content-Type": "application/json", **sent_headers})
            else:
                resp = self.session().post(url, json=body, headers=sent_headers, timeout=timeout)
            status = resp.status_code
            self._local.last_text = resp.text[:300]
        except requests.RequestException as exc:
            self._local.s = None
            self._local.last_text = f"{type(exc).__name__}"
            status = None
        return status, t0, time.time()

    @property
    def last_text(self) -> str:
        """The start of the last answer this thread got (or the error's name)."""
        return getattr(self._local, "last_text", "")

    def deliver(self, url: str, body, secret: str, until: float, timeout: float = 60) -> tuple[int | None, float, float, int]:
        """As Evolution retries: again on connection errors and 5xx, with a short
        backoff, until accepted or `until` (monotonic) passes; returns (status,
        sent at, answered at, n8n start-up 404s). Also again on the HTML 404
        n8n answers while it starts, before its webhooks are registered
        (HybridFlow's own 404 is JSON): counted, since Evolution would give up there."""
        not_ready, pause = 0, 0.2
        while True:
            status, t0, t1 = self.post(url, body, secret, timeout)
            starting = status == 404 and not self.last_text.lstrip().startswith("{")
            not_ready += starting
            if status is not None and status < 500 and not starting:
                return status, t0, t1, not_ready
            if time.monotonic() + pause > until:
                return status, t0, t1, not_ready
            time.sleep(pause)
            pause = min(pause * 2, 3.0)


def on_schedule(plan, send, workers: int) -> None:
    """For each (at, *args) of `plan`, sorted by `at`: send(*args) from a pool of
    `workers` threads, `at` seconds after the start; returns once every call ended."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for at, *args in plan:
            delay = started + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, *args)


# ---------------------------------------------------------------- the sandbox's sendText calls


@dataclass
class Reply:
    number: str
    instance: str
    text: str
    status: int
    received_at: float
    message_id: str | None
    markers: list[int] = field(default_factory=list)


class ReplyWatcher:
    """Follows GET /sandbox/calls?kind=sendText&after=&wait= in one thread and
    wakes whoever waits for a marker; keeps every call for the analysis."""

    def __init__(self, sandbox_url: str):
        self.url = sandbox_url
        self.calls: list[Reply] = []
        self.by_marker: dict[int, list[Reply]] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._last = 0
        self._thread = threading.Thread(target=self._run, name="reply-watcher", daemon=True)
        self.errors = 0

    def start(self) -> "ReplyWatcher":
        # start after whatever the sandbox already has
        resp = requests.get(self.url + "/sandbox/calls", params={"kind": "sendText"}, timeout=30).json()
        self._last = resp.get("last_seq", 0)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            try:
                resp = session.get(self.url + "/sandbox/calls",
                                   params={"kind": "sendText", "after": self._last, "wait": 1}, timeout=10)
                found = resp.json()
            except (requests.RequestException, ValueError):
                self.errors += 1
                time.sleep(0.2)
                continue
            calls = found.get("calls", [])
            if not calls:
                continue
            self._last = calls[-1]["seq"]
            with self._cond:
                for call in calls:
                    text = (call.get("body") or {}).get("text") or ""
                    reply = Reply(str((call.get("body") or {}).get("number", "")), call["instance"], text,
                                  call["status"], call["received_at"], call.get("message_id"),
                                  [int(m) for m in MARKER.findall(text)])
                    self.calls.append(reply)
                    if reply.status == 201:
                        for m in reply.markers:
                            self.by_marker.setdefault(m, []).append(reply)
                self._cond.notify_all()

    def wait_for(self, marker: int, timeout: float) -> Reply | None:
        """The first sent reply naming the marker, waiting at most `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while marker not in self.by_marker:
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(min(left, 1.0))
            return self.by_marker[marker][0]

    def sent(self, instances=None) -> list[Reply]:
        with self._cond:
            return [c for c in self.calls if c.status == 201 and (instances is None or c.instance in instances)]

    def replies_for(self, marker: int) -> list[Reply]:
        with self._cond:
            return list(self.by_marker.get(marker, []))


def token_hex(n: int = 3) -> str:
    return secrets.token_hex(n)
