"""Fuzzing: hypothesis-made hostile webhook bodies (testkit/fuzz_bodies.py),
straight at the collision service (POST /webhooks/evolution with the service
token and the tenant's secret), through n8n (/webhook/evolution) and through
the front door as Evolution posts (target "door": Caddy, then n8n). Counted:
answers 5xx (must be 0; through n8n, those the services answered are told
apart from n8n's own, by the services' logs) and rows written for a refused
body (must be 0: the fuzz tenant's rows in every HybridFlow table before and
after each refusal). A failed n8n execution is recorded by the errors flow in
flow_errors: counted apart."""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import requests
from hypothesis import HealthCheck, Phase, given, seed, settings

from testkit.fuzz_bodies import webhook_bodies

from . import logs
from .common import Tenant, say
from .db import open_replies

TABLES = ("events", "messages", "sessions", "reply_tokens", "chat_aliases", "outbound")
COUNT_SQL = ("SELECT " + ", ".join(f"(SELECT count(*) FROM {t} WHERE tenant_id = %(t)s) AS {t}" for t in TABLES)
             + ", (SELECT count(*) FROM flow_errors) AS flow_errors")


@dataclass
class FuzzResult:
    target: str
    bodies: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: int = 0
    rows_for_refused: int = 0
    service_5xx: int = 0          # answered 5xx by a service (from their request logs)
    flow_errors: int = 0          # failed n8n executions the errors flow recorded
    examples_5xx: list = field(default_factory=list)
    examples_rows: list = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)


def run(stack, tenant: Tenant, target: str, examples: int, seed_value: int = 2024) -> FuzzResult:
    res = FuzzResult(target)
    session = requests.Session()
    if target == "collision":
        url = stack.url("collision") + "/webhooks/evolution"
        headers = {"X-Service-Token": stack.env["SERVICE_TOKEN"], "X-Webhook-Secret": tenant.secret}
    elif target == "door":
        # as Evolution posts: through the front door (Caddy) to n8n
        url = stack.webhook_url
        headers = {"X-Webhook-Secret": tenant.secret}
    else:
        url = stack.url("n8n") + "/webhook/evolution"
        headers = {"X-Webhook-Secret": tenant.secret}
    headers["Content-Type"] = "application/json"
    conn = stack.db()
    since = logs.mark(stack)

    def counts():
        with conn.cursor() as cur:
            cur.execute(COUNT_SQL, {"t": tenant.id})
            return cur.fetchone()

    def quiet():
        """Through n8n an accepted customer message gets its reply (and the reply's
        echo) afterwards: let that finish, or its rows would count against the next body."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if open_replies(stack, [tenant.id]) == 0 and stack.drain(timeout=10) == 0:
                return
            time.sleep(0.05)

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=webhook_bodies(tenant.instance))
    def probe(case):
        before = counts()
        try:
            resp = session.post(url, data=case.raw, headers=headers, timeout=60)
            status = resp.status_code
        except requests.RequestException:
            status, resp = None, None
        res.bodies += 1
        res.kinds[case.kind.split("+")[0]] += 1
        res.statuses[status] += 1
        if status is None or status >= 500:
            res.server_errors += 1
            if len(res.examples_5xx) < 8:
                res.examples_5xx.append(f"{status} {case!r}")
        if target in ("n8n", "door") and status is not None and status >= 500:
            time.sleep(1.5)  # the errors flow records the failed execution
        if status != 200:
            after = counts()
            res.flow_errors += after["flow_errors"] - before["flow_errors"]
            after = {k: v for k, v in after.items() if k != "flow_errors"}
            before = {k: v for k, v in before.items() if k != "flow_errors"}
            if after != before:
                res.rows_for_refused += 1
                if len(res.examples_rows) < 5:
                    changed = {k: after[k] - before[k] for k in after if after[k] != before[k]}
                    res.examples_rows.append(f"{status} {changed} {case!r}")
        elif target in ("n8n", "door"):
            quiet()

    try:
        probe()
    finally:
        conn.close()
    res.service_5xx = sum(1 for recs in logs.requests_since(stack, since).values() for r in recs
                          if (r.get("status") or 0) >= 500)
    say(f"fuzz via {target}: {res.bodies} bodies, statuses {dict(sorted(res.statuses.items(), key=str))}, "
        f"5xx {res.server_errors} (from the services: {res.service_5xx}), rows for refused {res.rows_for_refused}, "
        f"failed n8n executions recorded {res.flow_errors}")
    for ex in res.examples_5xx[:3] + res.examples_rows[:3]:
        say(f"  example: {ex[:300]}")
    return res
