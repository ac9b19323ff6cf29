"""Faults, all in one run: every message delivered 4 times at once; Evolution
answering 500 to 10 % of sends and stalling 2 s on another 10 %; the LLM
answering 429/500 to 10 % of calls; Postgres restarted (the bench's private
cluster) a quarter of the way in; n8n killed (SIGKILL) and started again at
60 %. The webhook client retries as Evolution does (connection errors and
5xx), for as long as the phase lasts.

Afterwards, once the recovery flow has had its chance (it runs every minute
and takes up replies stuck past their deadline):
- messages in: customer messages HybridFlow recorded (first deliveries);
- replies out: sendText calls Evolution accepted for them;
- failures recorded: reply tokens ended `failed` with their error;
- silently lost: a message the webhook client got a 200 for, whose reply
  token neither sent nor ended failed/cancelled/superseded (must be 0);
  also a message acknowledged with no row at all."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .common import (ReplyWatcher, Tenant, WebhookClient, customer_body, next_marker, new_number, on_schedule,
                     question, say)
from .db import wait_until_no_open_replies


@dataclass
class FaultResult:
    messages: int = 0
    deliveries: int = 0
    accepted: int = 0
    never_accepted: int = 0
    # messages n8n answered with its start-up 404 at least once (a real Evolution
    # does not retry a 4xx: these would be lost at the door); the bench retries them
    turned_away_while_starting: int = 0
    echo_takeovers: int = 0      # the bot's own sends taken for a person (no owner writes here): must be 0
    final_statuses: dict = field(default_factory=dict)   # of deliveries that were never a 200
    refusal_examples: list = field(default_factory=list)
    messages_in: int = 0
    duplicate_deliveries_recorded: int = 0
    replies_out: int = 0
    duplicated_replies: int = 0
    tokens: dict = field(default_factory=dict)
    failures_recorded: int = 0
    failure_examples: list = field(default_factory=list)
    lost: int = 0
    lost_examples: list = field(default_factory=list)
    events: list = field(default_factory=list)
    postgres_restarted: bool = False
    n8n_restarted: bool = False
    seconds: float = 0.0
    settle_seconds: float = 0.0


def run(stack, watcher: ReplyWatcher, tenants: list[Tenant], chats: int, messages: int, window: float,
        settle: float, restart_postgres: bool) -> FaultResult:
    res = FaultResult(messages=messages)
    stack.sandbox_knobs(fail_ratio=0.1, fail_status=500, stall_ratio=0.1, stall_ms=2000)
    stack.fake_llm(error_ratio=0.1, error_statuses=[429, 500])
    # through the front door, as Evolution posts: while n8n restarts the door holds, then answers 503
    url = stack.webhook_url
    client = WebhookClient()
    numbers = [(tenants[i % len(tenants)], new_number()) for i in range(chats)]
    plan = []
    for k in range(messages):
        tenant, number = numbers[k % chats]
        marker = next_marker()
        msg_id, body = customer_body(stack, tenant, number, question(marker))
        plan.append((k * window / messages, tenant, number, msg_id, marker, body))
    say(f"faults: {messages} messages in {chats} chats over {window:.0f}s, each delivered 4 times at once; "
        "Evolution 500 on 10 % / 2 s stall on 10 %; LLM 429/500 on 10 %")

    acked: dict[str, bool] = {}
    turned_away: set = set()
    lock = threading.Lock()
    until = time.monotonic() + window + 240

    def deliver(msg_id, tenant, body):
        status, _, _, not_ready = client.deliver(url, body, tenant.secret, until=until)
        with lock:
            res.deliveries += 1
            if not_ready:
                turned_away.add(msg_id)
            if status == 200:
                acked[msg_id] = True
            else:
                acked.setdefault(msg_id, False)
                res.final_statuses[str(status)] = res.final_statuses.get(str(status), 0) + 1
                if len(res.refusal_examples) < 5:
                    res.refusal_examples.append(f"{status}: {client.last_text[:200]}")

    def inject():
        if restart_postgres:
            time.sleep(window * 0.25)
            say("faults: restarting Postgres (the bench's private cluster)")
            t = time.monotonic()
            stack.restart_private_postgres()
            res.postgres_restarted = True
            res.events.append(f"Postgres restarted at {window * 0.25:.0f}s (down {time.monotonic() - t:.1f}s)")
            if not stack.n8n_alive():
                res.events.append("n8n exited when Postgres went away; started again (as a supervisor would)")
                say("faults: n8n exited with Postgres; starting it again")
                stack.restart_n8n(crash=True)
            time.sleep(window * 0.35)
        else:
            time.sleep(window * 0.6)
        say("faults: killing n8n (SIGKILL) and starting it again")
        t = time.monotonic()
        stack.restart_n8n(crash=True)
        res.n8n_restarted = True
        res.events.append(f"n8n killed at {window * 0.6:.0f}s, serving again after {time.monotonic() - t:.0f}s")

    four_times = [(at, msg_id, tenant, body) for at, tenant, _, msg_id, _, body in plan for _copy in range(4)]
    injector = threading.Thread(target=inject, name="faults", daemon=True)
    started = time.monotonic()
    injector.start()
    on_schedule(four_times, deliver, workers=64)
    injector.join(timeout=400)
    res.seconds = time.monotonic() - started

    # the recovery flow's turn: until nothing is open (or `settle` runs out)
    tenant_ids = [t.id for t in tenants]
    res.settle_seconds = wait_until_no_open_replies(stack, tenant_ids, settle, poll=2)
    stack.sandbox_knobs(fail_ratio=0, stall_ratio=0, stall_ms=0)
    stack.fake_llm(error_ratio=0)
    time.sleep(1)

    res.turned_away_while_starting = len(turned_away)
    res.echo_takeovers = stack.query("SELECT count(*) AS n FROM events WHERE tenant_id = ANY(%s::uuid[])"
                                     " AND decision = 'human_takeover'", tenant_ids)[0]["n"]
    res.accepted = sum(1 for v in acked.values() if v)
    res.never_accepted = sum(1 for v in acked.values() if not v)
    ids = [p[3] for p in plan]
    rows = stack.query(
        "SELECT m.wa_message_id, t.state, t.error FROM messages m LEFT JOIN reply_tokens t ON t.id = m.reply_token_id"
        " WHERE m.tenant_id = ANY(%s::uuid[]) AND m.wa_message_id = ANY(%s)", tenant_ids, ids)
    by_id = {r["wa_message_id"]: r for r in rows}
    res.messages_in = len(by_id)
    res.duplicate_deliveries_recorded = stack.query(
        "SELECT count(*) AS n FROM events WHERE tenant_id = ANY(%s::uuid[]) AND decision = 'duplicate'",
        tenant_ids)[0]["n"]
    for row in stack.query("SELECT state, count(*) AS n FROM reply_tokens WHERE tenant_id = ANY(%s::uuid[])"
                           " GROUP BY state ORDER BY state", tenant_ids):
        res.tokens[row["state"]] = row["n"]
    failed = stack.query("SELECT error FROM reply_tokens WHERE tenant_id = ANY(%s::uuid[]) AND state = 'failed'",
                         tenant_ids)
    res.failures_recorded = sum(1 for f in failed if f["error"])
    kinds: dict[str, int] = {}
    for f in failed:
        key = (f["error"] or "(no error)")[:90]
        kinds[key] = kinds.get(key, 0) + 1
    res.failure_examples = sorted(kinds.items(), key=lambda kv: -kv[1])[:5]
    ended = ("sent", "failed", "cancelled", "superseded")
    for msg_id in ids:
        if not acked.get(msg_id):
            continue
        row = by_id.get(msg_id)
        if row is None or row["state"] not in ended:
            res.lost += 1
            if len(res.lost_examples) < 5:
                ev = stack.query("SELECT decision, reason FROM events WHERE wa_message_id = %s ORDER BY id", msg_id)
                res.lost_examples.append(f"{msg_id}: {'no row' if row is None else row['state']}; events "
                                         + "; ".join(f"{e['decision']} ({e['reason']})" for e in ev))
    instances = {t.instance for t in tenants}
    sent = watcher.sent(instances)
    res.replies_out = len(sent)
    per_marker: dict[int, int] = {}
    for r in sent:
        for m in r.markers:
            per_marker[m] = per_marker.get(m, 0) + 1
    res.duplicated_replies = sum(n - 1 for n in per_marker.values() if n > 1)
    say(f"faults: {res.messages_in} messages in, {res.replies_out} replies out, tokens {res.tokens}, "
        f"failures recorded {res.failures_recorded}, silently lost {res.lost}, duplicated replies "
        f"{res.duplicated_replies}, echoes taken for a person {res.echo_takeovers}, turned away by n8n while "
        f"starting {res.turned_away_while_starting} (settled in {res.settle_seconds:.0f}s)")
    return res
