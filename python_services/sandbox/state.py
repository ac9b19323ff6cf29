"""The sandbox's whole state, in memory behind one lock: instances (with their
webhook), the chats, the API calls received, and the test knobs (which
knobs there are and what values they take: knobs.py). One process holds it:
run the sandbox with ONE gunicorn worker (threads are fine)."""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field

from . import payloads
from .delivery import Deliverer
from .knobs import DEFAULT_KNOBS, check_knob


def mask(value) -> str:
    """A secret as the sandbox shows it: its last four characters at most."""
    text = str(value)
    return "****" + text[-4:] if len(text) > 8 else "****"


def masked_webhook(webhook: dict | None) -> dict | None:
    """A webhook as answered: its headers' values masked (they carry the tenant's secret)."""
    if not webhook:
        return webhook
    shown = dict(webhook)
    if isinstance(shown.get("headers"), dict):
        shown["headers"] = {k: mask(v) for k, v in shown["headers"].items()}
    return shown


def url_allowed(url: str, allowed: tuple) -> bool:
    """The sandbox delivers only to the configured n8n / door (SANDBOX_WEBHOOK_ALLOWED)."""
    return isinstance(url, str) and any(url.startswith(prefix) for prefix in allowed)


@dataclass
class Instance:
    name: str
    apikey: str
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "open"
    owner_number: str = "5511999990000"
    business_name: str = "Sandbox Store"
    webhook: dict | None = None

    def public(self) -> dict:
        shown = asdict(self)
        shown["apikey"] = mask(self.apikey)
        shown["webhook"] = masked_webhook(self.webhook)
        return shown


class Sandbox:
    def __init__(self, *, api_key: str, server_url: str, instances=(), owner_number: str = "5511999990000",
                 default_number: str = "5511987654321", deliverer: Deliverer | None = None, keep: int = 5000,
                 webhook_allowed: tuple = ()):
        self.api_key = api_key
        # URL prefixes webhooks may go to (the configured n8n / door); nothing else
        self.webhook_allowed = tuple(webhook_allowed)
        self.server_url = server_url
        self.owner_number = owner_number
        self.default_number = default_number
        self.deliverer = deliverer or Deliverer()
        self._configured = tuple(instances)
        self._lock = threading.RLock()
        # waiters on GET /sandbox/calls?wait= are woken by every new call
        self._new_call = threading.Condition(self._lock)
        self._random = random.Random()
        self._keep = keep
        self._reset_all(instances=True)

    # ---- reset ---------------------------------------------------------------
    def _reset_all(self, instances: bool) -> None:
        with self._lock:
            if instances:
                self.instances: dict[str, Instance] = {}
                for name in self._configured:
                    self.instances[name] = Instance(name, self.api_key, owner_number=self.owner_number)
            self.chats: dict[tuple[str, str], list[dict]] = {}
            self.calls: deque = deque(maxlen=self._keep)
            self.typing: dict[tuple[str, str], float] = {}
            self.knobs = dict(DEFAULT_KNOBS, not_on_whatsapp=[])
            # the bytes of the voice notes and photos sent from the page, by message id (media.py)
            self.media: dict[str, dict] = {}
            self._seq = 0
            self._call_seq = 0
        self.deliverer.clear_results()

    def reset(self, instances: bool = False) -> None:
        """Forget chats, calls, deliveries and knobs (and, asked, instances and webhooks)."""
        self._reset_all(instances)

    # ---- instances -----------------------------------------------------------
    def instance(self, name: str) -> Instance | None:
        with self._lock:
            return self.instances.get(name)

    def ensure_instance(self, name: str, **fields) -> Instance:
        with self._lock:
            inst = self.instances.get(name)
            if inst is None:
                inst = self.instances[name] = Instance(name, fields.pop("apikey", None) or self.api_key,
                                                       owner_number=self.owner_number)
            for key, value in fields.items():
                if value is not None:
                    setattr(inst, key, value)
            return inst

    def key_opens(self, inst: Instance, key: str | None) -> bool:
        """The global key or the instance's own token, as Evolution accepts."""
        return bool(key) and key in (self.api_key, inst.apikey)

    def set_webhook(self, inst: Instance, webhook: dict) -> dict:
        now = payloads.iso_now()
        with self._lock:
            events = list(webhook.get("events") or []) if webhook.get("enabled") else []
            inst.webhook = {
                "id": (inst.webhook or {}).get("id") or "c" + uuid.uuid4().hex[:24],
                "url": webhook["url"],
                "headers": dict(webhook.get("headers") or {}),
                "enabled": bool(webhook.get("enabled")),
                "events": events,
                "webhookByEvents": bool(webhook.get("byEvents", False)),
                "webhookBase64": bool(webhook.get("base64", False)),
                "createdAt": (inst.webhook or {}).get("createdAt") or now,
                "updatedAt": now,
                "instanceId": inst.instance_id,
            }
            return masked_webhook(inst.webhook)

    # ---- knobs ---------------------------------------------------------------
    def set_knobs(self, changes: dict) -> dict:
        checked = {name: check_knob(name, value) for name, value in changes.items()}
        with self._lock:
            self.knobs.update(checked)
            return dict(self.knobs)

    def get_knobs(self) -> dict:
        with self._lock:
            return dict(self.knobs)

    def take_send_failure(self) -> int | None:
        """The status to fail this send with, when the knob asks for it."""
        return self._take_failure("fail_next_sends")

    def take_failure_after_sending(self) -> int | None:
        """The status to answer once this send has gone out, when the knob asks for it."""
        return self._take_failure("fail_next_after_sending")

    def _take_failure(self, countdown: str) -> int | None:
        """fail_status while the knob `countdown` (a number of sends) is above
        zero, counting it down by one; None once it is spent."""
        with self._lock:
            if self.knobs[countdown] > 0:
                self.knobs[countdown] -= 1
                return self.knobs["fail_status"]
            return None

    def roll_send_fault(self) -> tuple[int | None, int]:
        """(status to fail with or None, ms to stall) for one sendText, by the
        fail_ratio / stall_ratio knobs; a failed send does not stall."""
        with self._lock:
            knobs, roll = self.knobs, self._random.random()
            if roll < knobs["fail_ratio"]:
                return knobs["fail_status"], 0
            if knobs["stall_ms"] and self._random.random() < knobs["stall_ratio"]:
                return None, knobs["stall_ms"]
            return None, 0

    def on_whatsapp(self, number: str) -> bool:
        with self._lock:
            return number not in self.knobs["not_on_whatsapp"]

    # ---- calls, chats, typing --------------------------------------------------
    def record_call(self, kind: str, instance: str, body, status: int, received_at: float | None = None,
                    **extra) -> None:
        """`at`: when the answer was ready; `received_at`: when the request came
        in (epoch seconds, microsecond precision), for latency measurements."""
        now = time.time()
        with self._lock:
            self._call_seq += 1
            if kind == "webhook/set" and isinstance(body, dict) and isinstance(body.get("webhook"), dict):
                body = {**body, "webhook": masked_webhook(body["webhook"])}
            self.calls.append({"seq": self._call_seq, "kind": kind, "instance": instance, "body": body,
                               "status": status, "at": now, "received_at": received_at or now, **extra})
            self._new_call.notify_all()

    def calls_of(self, instance: str | None = None, kind: str | None = None, after: int = 0,
                 wait: float = 0) -> list[dict]:
        """The calls received (seq > after); with wait, holds until one comes
        (at most `wait` seconds) so a client can follow them without polling."""
        deadline = time.monotonic() + wait

        def matching():
            newer = []
            for c in reversed(self.calls):  # in seq order: read back to `after` only
                if c["seq"] <= after:
                    break
                if (instance is None or c["instance"] == instance) and (kind is None or c["kind"] == kind):
                    newer.append(c)
            return newer[::-1]

        with self._lock:
            found = matching()
            while not found and (left := deadline - time.monotonic()) > 0:
                self._new_call.wait(left)
                found = matching()
            return found

    def add_message(self, instance: str, number: str, author: str, text: str, msg_id: str, event: str,
                    media: dict | None = None) -> dict:
        with self._lock:
            self._seq += 1
            message = {"seq": self._seq, "id": msg_id, "author": author, "text": text,
                       "from_me": author != "customer", "event": event, "at": round(time.time() * 1000)}
            if media:
                message["media"] = media
            self.chats.setdefault((instance, number), []).append(message)
            if author == "bot":
                self.typing.pop((instance, number), None)
            return dict(message)

    def add_media(self, msg_id: str, record: dict, keep: int = 200) -> None:
        """A sent medium's bytes (the oldest go past `keep`: it is a test gateway)."""
        with self._lock:
            self.media[msg_id] = record
            while len(self.media) > keep:
                self.media.pop(next(iter(self.media)))

    def media_of(self, msg_id: str) -> dict | None:
        with self._lock:
            return self.media.get(msg_id)

    def messages(self, instance: str, number: str, after: int = 0) -> list[dict]:
        with self._lock:
            return [dict(m) for m in self.chats.get((instance, number), []) if m["seq"] > after]

    def chat_numbers(self, instance: str) -> list[str]:
        with self._lock:
            return [num for (inst, num) in self.chats if inst == instance]

    def set_typing(self, instance: str, number: str, delay_ms: int) -> None:
        with self._lock:
            self.typing[(instance, number)] = time.time() + delay_ms / 1000.0

    def is_typing(self, instance: str, number: str) -> bool:
        with self._lock:
            return self.typing.get((instance, number), 0) > time.time()

    # ---- webhooks --------------------------------------------------------------
    def webhook_bodies(self, inst: Instance, event: str, data: dict) -> tuple[str, dict, list[dict]] | None:
        """(url, headers, bodies) for an event, or None when the instance's
        webhook is off or does not list the event."""
        with self._lock:
            hook = dict(inst.webhook) if inst.webhook else None
            copies = 2 if self.knobs["duplicate_webhooks"] else 1
        if not hook or not hook["enabled"] or not url_allowed(hook["url"], self.webhook_allowed):
            return None
        flag = payloads.event_flag(event)
        if hook["events"] and flag not in hook["events"]:
            return None
        url = hook["url"]
        if hook["webhookByEvents"]:
            url = url.rstrip("/") + "/" + flag.lower().replace("_", "-")
        body = payloads.envelope(
            event=event, instance=inst.name, data=data, destination=hook["url"],
            sender=payloads.phone_jid(inst.owner_number), server_url=self.server_url, apikey=inst.apikey,
        )
        return url, hook["headers"], [body] * copies

    def emit(self, inst: Instance, number: str, event: str, data: dict, mode: str = "async") -> list[dict]:
        """Deliver an event: "async" (background), "sync" (now, in this thread) or "none"."""
        target = self.webhook_bodies(inst, event, data)
        if target is None or mode == "none":
            return []
        url, headers, bodies = target
        if mode == "sync":
            return self.deliverer.deliver_now(url, headers, bodies)
        self.deliverer.enqueue(f"{inst.name}/{number}", url, headers, bodies)
        return []
