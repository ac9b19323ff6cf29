"""Collisions under load: many chats where the customer and the business's
people write at random moments (some right after the customer, while the
reply is being written), the bot's own sends coming back as fromMe upserts
(Evolution 2.2's way, the one that looks most like a person typing).

Counted afterwards, from Postgres and the sandbox:
- replies claimed after an owner's message was recorded in that chat (the
  send guard must refuse every one: must be 0). "Recorded" is the owner's
  event row: created_at plus its duration_ms, i.e. when its transaction ended;
- pauses caused by the bot's own echoes: human_takeover events whose message
  id is in the outbound ledger, and chats paused that no owner wrote in (0);
- replies that were already claimed when the owner wrote and reached
  Evolution after the owner's message was acknowledged (allowed: the guard
  ran before the owner spoke; reported for information)."""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from .common import (ReplyWatcher, Tenant, WebhookClient, customer_body, next_marker, new_number, on_schedule,
                     owner_body, question, say)
from .db import open_replies, wait_until_no_open_replies


@dataclass
class CollisionResult:
    chats: int = 0
    customer_messages: int = 0
    owner_messages: int = 0
    chats_with_owner: int = 0
    webhook_failures: int = 0
    replies_sent: int = 0
    claimed_after_owner: int = 0
    in_flight_after_owner: int = 0
    echo_takeovers: int = 0
    paused_without_owner: int = 0
    open_tokens: int = 0
    decisions: dict = field(default_factory=dict)
    seconds: float = 0.0


def run(stack, watcher: ReplyWatcher, tenants: list[Tenant], chats: int, window: float, settle: float,
        seed: int = 7) -> CollisionResult:
    rnd = random.Random(seed)
    res = CollisionResult(chats=chats)
    url = stack.url("n8n") + "/webhook/evolution"
    client = WebhookClient()
    plan = []  # (at, kind, tenant, number, body, msg_id)
    owner_chats: dict[tuple[str, str], list] = {}
    for i in range(chats):
        tenant, number = tenants[i % len(tenants)], new_number()
        times = sorted(rnd.uniform(0, window) for _ in range(rnd.randint(1, 3)))
        for at in times:
            _, body = customer_body(stack, tenant, number, question(next_marker()))
            plan.append((at, "customer", tenant, number, body))
        roll = rnd.random()
        owner_times = []
        if roll < 0.35:
            owner_times = [rnd.uniform(0, window)]
        elif roll < 0.6:
            # right after a customer's message: the reply is being written or sent
            owner_times = [times[0] + rnd.uniform(0.0, 0.4)]
        elif roll < 0.7:
            owner_times = [rnd.uniform(0, window), rnd.uniform(0, window)]
        for at in owner_times:
            _, body = owner_body(stack, tenant, number, "Aqui é o João da loja, já te respondo.")
            plan.append((at, "owner", tenant, number, body))
        if owner_times:
            owner_chats[(tenant.instance, number)] = []
    plan.sort(key=lambda p: p[0])
    res.customer_messages = sum(1 for p in plan if p[1] == "customer")
    res.owner_messages = sum(1 for p in plan if p[1] == "owner")
    res.chats_with_owner = len(owner_chats)
    say(f"collisions: {chats} chats, {res.customer_messages} customer and {res.owner_messages} owner messages "
        f"over {window:.0f}s")

    acks: dict[tuple[str, str], list[float]] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + window + 120

    def send(kind, tenant, number, body):
        status, _, t1, _ = client.deliver(url, body, tenant.secret, until=stop_at)
        with lock:
            if status != 200:
                res.webhook_failures += 1
            elif kind == "owner":
                acks.setdefault((tenant.instance, number), []).append(t1)

    started = time.monotonic()
    on_schedule(plan, send, workers=48)
    res.seconds = time.monotonic() - started

    tenant_ids = [t.id for t in tenants]
    wait_until_no_open_replies(stack, tenant_ids, settle, poll=0.5)
    time.sleep(1.5)  # the last sends' echoes
    instances = {t.instance for t in tenants}
    sent = watcher.sent(instances)
    res.replies_sent = len(sent)
    res.open_tokens = open_replies(stack, tenant_ids)
    for row in stack.query("SELECT decision, count(*) AS n FROM events WHERE tenant_id = ANY(%s::uuid[])"
                           " GROUP BY decision ORDER BY decision", tenant_ids):
        res.decisions[row["decision"]] = row["n"]

    # the guard: a claim made after the owner's message was recorded
    res.claimed_after_owner = stack.query(
        "SELECT count(*) AS n FROM outbound o JOIN ("
        "  SELECT tenant_id, chat_id, min(received_at + make_interval(secs => coalesce(duration_ms, 0) / 1000.0)) AS t"
        "  FROM events WHERE tenant_id = ANY(%s::uuid[]) AND author = 'business'"
        "   AND decision IN ('human_takeover', 'paused', 'command') GROUP BY tenant_id, chat_id) h"
        " ON h.tenant_id = o.tenant_id AND h.chat_id = o.chat_id WHERE o.claimed_at > h.t",
        tenant_ids)[0]["n"]
    # echoes taken for a person
    res.echo_takeovers = stack.query(
        "SELECT count(*) AS n FROM events e WHERE e.tenant_id = ANY(%s::uuid[]) AND e.decision = 'human_takeover'"
        " AND EXISTS (SELECT 1 FROM outbound o WHERE o.tenant_id = e.tenant_id AND o.wa_message_id = e.wa_message_id)",
        tenant_ids)[0]["n"]
    by_instance = {t.id: t.instance for t in tenants}
    paused = stack.query("SELECT tenant_id, chat_id FROM sessions WHERE tenant_id = ANY(%s::uuid[]) AND paused",
                         tenant_ids)
    res.paused_without_owner = sum(
        1 for s in paused if (by_instance[str(s["tenant_id"])], s["chat_id"].split("@")[0]) not in owner_chats)
    # informational: sends that reached Evolution after the owner's message was acknowledged
    for reply in sent:
        owner_acks = acks.get((reply.instance, reply.number))
        if owner_acks and reply.received_at > min(owner_acks):
            res.in_flight_after_owner += 1
    say(f"collisions: {res.replies_sent} replies; claimed after an owner's message {res.claimed_after_owner}; "
        f"echo takeovers {res.echo_takeovers}; paused without an owner {res.paused_without_owner}; "
        f"in flight when the owner wrote {res.in_flight_after_owner}; open tokens {res.open_tokens}")
    return res
