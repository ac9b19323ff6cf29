"""The front door's figures (docs/benchmarks.md, "The front door"), on a bench
stack of its own (like `make bench`: free ports, a private Postgres cluster):

 1. what the door adds: the same webhook posted straight to n8n and through the
    door (Caddy, ops/Caddyfile), closed loop at concurrency 1 and 16, on the
    trivial Webhook -> Respond workflow and on the real inbound webhook (a
    connection.update event: n8n + the collision service, no reply);
 2. restarts: a steady stream of customer messages through the door, delivered
    the way Evolution 2.3 does (testkit/evolution_retry.py), while n8n is killed
    with SIGKILL and started again; lost and duplicated counted in Postgres;
 3. fuzzing through the door (bench/fuzz.py, target "door"): 0 x 5xx is the target.

    python -m bench.door                  # all three, prints the figures
    DOOR_BENCH_PHASES=latency python -m bench.door
    DOOR_BENCH_SECONDS=10 DOOR_BENCH_FUZZ=60 python -m bench.door

It prints; it does not write docs/benchmarks.md (the figures there were copied
from its output, with the date)."""
from __future__ import annotations

import os
import signal
import sys
import time

import requests

from testkit.evolution_retry import Stream

from . import fuzz
from .common import make_tenant, percentile, say, token_hex
from .run import _interrupted
from .stack import BenchStack
from .throughput import TrivialResult, request_loop

PHASES = ("latency", "restart", "fuzz")


def _ms(values: list[float], p: float) -> str:
    v = percentile(values, p)
    return "-" if v is None else f"{v:.1f} ms"


def loop(method: str, url: str, body, headers: dict, concurrency: int, seconds: float) -> TrivialResult:
    """A closed loop: `concurrency` clients, each sending the next request when its answer is in."""

    def new_client():
        session = requests.Session()

        def one() -> tuple[bool, float]:
            t0 = time.perf_counter()
            try:
                ok = session.request(method, url, json=body, headers=headers, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            return ok, (time.perf_counter() - t0) * 1000

        return one

    return request_loop(new_client, concurrency, seconds)


def latency(stack: BenchStack, seconds: float) -> list[dict]:
    """Straight to the upstream vs through the door, in the order direct, door,
    door, direct (n8n warms up over a run: a drift hits both alike)."""
    tenant = make_tenant(stack, f"bench-door-{token_hex()}")
    inbound = {"event": "connection.update", "instance": tenant.instance,
               "data": {"instance": tenant.instance, "state": "open", "statusReason": 200},
               "date_time": "2026-11-25T10:00:00.000Z", "sender": "5511999990000@s.whatsapp.net",
               "server_url": stack.url("sandbox"), "apikey": None}
    rows = []
    admin = {"Authorization": f"Bearer {stack.env['ADMIN_TOKEN']}"}
    for what, upstream, path, body, headers in (
            ("admin API, GET /api/tenants/<id> (collision)", "collision", f"/api/tenants/{tenant.id}", None, admin),
            ("trivial Webhook -> Respond (n8n)", "n8n", "/webhook/bench-trivial", {"ping": 1}, {}),
            ("inbound webhook, connection.update: ignore (n8n + collision)", "n8n", "/webhook/evolution", inbound,
             {"X-Webhook-Secret": tenant.secret})):
        method = "GET" if body is None else "POST"
        for c in (1, 16):
            runs = {"direct": [], "door": []}
            for where in ("direct", "door", "door", "direct"):
                base = stack.url(upstream) if where == "direct" else stack.url("door")
                res = loop(method, base + path, body, headers, c, seconds / 4)
                runs[where].append(res)
            row = {"what": what, "concurrency": c}
            for where, results in runs.items():
                lat = [x for r in results for x in r.latencies_ms]
                row[where] = {"requests": sum(r.requests for r in results), "errors": sum(r.errors for r in results),
                              "rate": sum(r.requests for r in results) / sum(r.elapsed for r in results),
                              "p50": percentile(lat, 50), "p95": percentile(lat, 95), "p99": percentile(lat, 99)}
            rows.append(row)
            say(f"{what}, c={c}: direct p50 {row['direct']['p50']:.1f} ms {row['direct']['rate']:.1f}/s; "
                f"door p50 {row['door']['p50']:.1f} ms {row['door']['rate']:.1f}/s; "
                f"added p50 {row['door']['p50'] - row['direct']['p50']:+.1f} ms")
    return rows


def restart(stack: BenchStack, interval: float = 0.25) -> dict:
    """4 messages a second (a busy small business; n8n's ceiling on this path
    is ~10/s here, and the messages held during the restart come on top)."""
    tenant = make_tenant(stack, f"bench-restart-{token_hex()}")
    number = "5511955550000"
    chat_id = f"{number}@s.whatsapp.net"
    prefix = f"DOORRESTART{token_hex()}".upper()

    def body(i: int) -> dict:
        return {"event": "messages.upsert", "instance": tenant.instance,
                "data": {"key": {"remoteJid": chat_id, "fromMe": i == 0, "id": f"{prefix}{i:06d}",
                                 "addressingMode": "pn"},
                         # the first, from the owner, pauses the chat by hand: the rest are recorded, not answered
                         "message": {"conversation": "#bot off" if i == 0 else f"message {i}"},
                         "messageType": "conversation", "messageTimestamp": int(time.time()), "source": "android"},
                "date_time": "2026-11-25T10:00:00.000Z", "sender": "5511999990000@s.whatsapp.net",
                "server_url": stack.url("sandbox"), "apikey": None}

    stream = Stream(stack.webhook_url, {"X-Webhook-Secret": tenant.secret}, body, interval=interval,
                    threads=256).start()
    time.sleep(5)
    killed = time.monotonic()
    stack.stop_n8n(crash=True)
    say("n8n killed (SIGKILL); starting it again")
    stack.start_n8n()
    stack.wait_n8n(timeout=240)
    back = time.monotonic() - killed
    time.sleep(5)
    result = stream.stop()
    ids = [f"{prefix}{i:06d}" for i in range(result.sent)]
    # every message has one decision (the first, the owner's command, is an event without a stored message)
    decided = stack.query("SELECT wa_message_id, count(*) AS n FROM events WHERE tenant_id = %s AND"
                          " wa_message_id = ANY(%s) AND decision <> 'duplicate' GROUP BY wa_message_id", tenant.id, ids)
    stored = stack.query("SELECT wa_message_id, count(*) AS n FROM messages WHERE tenant_id = %s"
                         " AND wa_message_id = ANY(%s) GROUP BY wa_message_id", tenant.id, ids[1:])
    out = {"sent": result.sent, "delivered": result.delivered, "dropped": len(result.dropped),
           "given_up": len(result.given_up), "retried": result.retried, "slowest_s": round(result.slowest(), 1),
           "n8n_back_s": round(back, 1), "recorded": len(decided), "lost": result.sent - len(decided),
           "stored_messages": len(stored),
           "duplicated": sum(1 for r in stored if r["n"] > 1) + sum(1 for r in decided if r["n"] > 1),
           "answers": {str(k): v for k, v in sorted(result.answers().items(), key=str)}}
    say(f"restart through the door: {out}")
    return out


def main() -> int:
    phases = tuple(p for p in os.environ.get("DOOR_BENCH_PHASES", ",".join(PHASES)).split(",") if p)
    seconds = float(os.environ.get("DOOR_BENCH_SECONDS", "20"))
    fuzz_examples = int(os.environ.get("DOOR_BENCH_FUZZ", "150"))
    signal.signal(signal.SIGTERM, _interrupted)
    stack = BenchStack.build(os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres")
    results: dict = {}
    try:
        say("starting services, n8n and the door")
        stack.start_all()
        if "latency" in phases:
            results["latency"] = latency(stack, seconds)
        if "fuzz" in phases:
            results["fuzz"] = fuzz.run(stack, make_tenant(stack, f"bench-fuzz-{token_hex()}"), "door", fuzz_examples)
        if "restart" in phases:
            results["restart"] = restart(stack)
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
        return 130
    finally:
        stack.teardown()
    print()
    for row in results.get("latency", []):
        d, g = row["direct"], row["door"]
        print(f"| {row['what']} | {row['concurrency']} | {d['p50']:.1f} / {d['p99']:.1f} ms, {d['rate']:.1f}/s | "
              f"{g['p50']:.1f} / {g['p99']:.1f} ms, {g['rate']:.1f}/s | {g['p50'] - d['p50']:+.1f} ms | "
              f"{d['errors'] + g['errors']} |")
    if "restart" in results:
        print(results["restart"])
    if "fuzz" in results:
        fz = results["fuzz"]
        print(f"fuzz via door: {fz.bodies} bodies, statuses {dict(fz.statuses)}, 5xx {fz.server_errors}, "
              f"rows for refused {fz.rows_for_refused}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
