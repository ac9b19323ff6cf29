"""`make bench`: starts a stack of its own (like `make up`, on free ports, with
a private Postgres cluster), measures, prints, writes docs/benchmarks.md, and
stops everything it started — also on Ctrl-C or a failure.

Phases, in order:
 0. the lean n8n path, side by side: the flow before #18 and each change
    kept, the same loops on the same stack (bench/lean.py);
 1. latency at concurrency 1 (webhook -> sendText p50/p95/p99) and where the
    time goes (the services' log lines), then sustained replies/s at 8, 16, 32;
 2. the ceiling: a trivial Webhook -> Respond workflow at 8 and 16;
 3. fuzzing, straight at the collision service, through n8n and through the door;
 4. collisions under load (customers and owners at random moments);
 5. faults (4× deliveries, Evolution 500s and stalls, LLM 429/500, Postgres
    and n8n restarted mid-run);
 6. queue mode (Redis, 1 then 2 workers): the same loops (skipped with BENCH_QUICK=1);
 7. the N8N_EXPRESSION_ENGINE=legacy opt-in: concurrency 1 and 16 and the trivial
    workflow again (measured only; never the default).

    BENCH_QUICK=1 make bench     # a few hundred messages, no queue mode (a few minutes)
    BENCH_KEEP_DATA=1            # keep the temporary folder (logs) after the run
    BENCH_NO_DOC=1               # print only; leave docs/benchmarks.md alone
    BENCH_PHASES=latency,trivial # only these phases (lean, latency, throughput, trivial, fuzz,
                                 # collisions, faults, queue, legacy), for trying things;
                                 # leaves docs/benchmarks.md alone
"""
from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import asdict

from .common import (ReplyWatcher, customer_body, make_tenant, new_number, percentile, question, say,
                     token_hex)
from . import collisions, cpu, faults, fuzz, lean, logs, machine, n8n_metrics, report
from .stack import BenchStack
from .throughput import closed_loop, duplicates, trivial_loop

FULL = {
    "tenants": 4, "chats": 240, "warmup": 40, "c1_messages": 1000, "c1_seconds": 300,
    "levels": {8: 480, 16: 640, 32: 800}, "level_seconds": 45,
    "trivial_seconds": 15, "trivial_max": 4000,
    "queue": True, "queue_levels": {1: 60, 8: 320, 16: 400, 32: 480}, "queue_seconds": 35,
    "fuzz_collision": 400, "fuzz_n8n": 150,
    "collision_chats": 500, "collision_window": 45, "collision_settle": 60,
    "fault_chats": 120, "fault_messages": 360, "fault_window": 90, "fault_settle": 210,
    "legacy_c1": 300, "legacy_c16": 640,
    "lean_c1": 300, "lean_c16": 480, "lean_seconds": 40,
}
QUICK = {
    "tenants": 2, "chats": 60, "warmup": 20, "c1_messages": 200, "c1_seconds": 90,
    "levels": {8: 160, 16: 240, 32: 320}, "level_seconds": 20,
    "trivial_seconds": 8, "trivial_max": 2000,
    "queue": False, "queue_levels": {}, "queue_seconds": 0,
    "fuzz_collision": 100, "fuzz_n8n": 40,
    "collision_chats": 120, "collision_window": 20, "collision_settle": 40,
    "fault_chats": 30, "fault_messages": 90, "fault_window": 40, "fault_settle": 190,
    "legacy_c1": 100, "legacy_c16": 240,
    "lean_c1": 100, "lean_c16": 200, "lean_seconds": 20,
}


def _loop_summary(res) -> dict:
    return {"sent": res.sent, "replies": res.replies, "rate": res.rate, "p50": res.pct(50), "p95": res.pct(95),
            "p99": res.pct(99), "lost": len(res.lost), "refused": res.refused}


def settle(stack: BenchStack) -> None:
    left = stack.drain()
    if left:
        say(f"(still {left} webhooks or replies in flight after a minute; going on)")


PHASES = ("lean", "latency", "throughput", "trivial", "fuzz", "collisions", "faults", "queue", "legacy")


def measure(stack: BenchStack, cfg: dict, quick: bool, phases=PHASES) -> dict:
    started = time.monotonic()
    r: dict = {"quick": quick, "loops": {}, "queue": {}, "trivial": {}, "fuzz": []}
    watcher = ReplyWatcher(stack.url("sandbox")).start()
    try:
        say(f"making {cfg['tenants']} tenants with {cfg['chats']} chats")
        tenants = [make_tenant(stack, f"bench-{i}-{token_hex()}") for i in range(cfg["tenants"])]
        chats = [(tenants[i % len(tenants)], new_number()) for i in range(cfg["chats"])]
        r["tenants"], r["chats"] = len(tenants), len(chats)
        r["machine"] = machine.describe(stack)
        loops = []

        say("warming up (not counted)")
        closed_loop(stack, watcher, chats, 4, cfg["warmup"], 60, label="warm-up")

        _, body = _sample_body(stack, tenants[0])
        if "lean" in phases:
            settle(stack)
            r["lean"], lean_loops = lean.run(stack, watcher, tenants, chats, cfg, body, settle)
            loops += lean_loops

        if "latency" in phases:
            settle(stack)
            say(f"latency: {cfg['c1_messages']} messages one at a time")
            since, cpu_before, n8n_before = logs.mark(stack), cpu.reading(stack), n8n_metrics.scrape(stack)
            c1 = closed_loop(stack, watcher, chats, 1, cfg["c1_messages"], cfg["c1_seconds"], label="latency")
            settle(stack)  # the last reply's echo belongs to this loop too
            r["cpu_ms"] = cpu.per_reply_ms(cpu_before, cpu.reading(stack), c1.replies)
            r["n8n_per_reply"] = n8n_metrics.per_reply(n8n_before, n8n_metrics.scrape(stack), c1.replies)
            hot = logs.hot_path(logs.requests_since(stack, since))
            loops.append(c1)
            r["loops"][1] = _loop_summary(c1)
            e2e = sum(c1.latencies_ms) / len(c1.latencies_ms) if c1.latencies_ms else None
            r["hot"], r["where"] = hot, logs.where_time_goes(e2e, hot)

        for c, n in (cfg["levels"].items() if "throughput" in phases else ()):
            settle(stack)
            res = closed_loop(stack, watcher, chats, c, n, cfg["level_seconds"], label="throughput")
            loops.append(res)
            r["loops"][c] = _loop_summary(res)

        for c in ((8, 16) if "trivial" in phases else ()):
            settle(stack)
            t = trivial_loop(stack, body, c, cfg["trivial_seconds"], cfg["trivial_max"])
            r["trivial"][c] = {"rate": t.rate, "p50": report_p50(t.latencies_ms), "errors": t.errors}
        if r["loops"].get(16) and r["trivial"].get(16, {}).get("rate"):
            r["ratio_c16"] = r["loops"][16]["rate"] / r["trivial"][16]["rate"]

        if "fuzz" in phases:
            settle(stack)
            say("fuzzing")
            fuzz_tenant = make_tenant(stack, f"bench-fuzz-{token_hex()}")
        for target, n in ((("collision", cfg["fuzz_collision"]), ("n8n", cfg["fuzz_n8n"]),
                           ("door", cfg["fuzz_n8n"]))
                          if "fuzz" in phases else ()):
            res = fuzz.run(stack, fuzz_tenant, target, n)
            r["fuzz"].append({**asdict(res), "statuses": {str(k): v for k, v in res.statuses.items()}})

        if "collisions" in phases:
            settle(stack)
            say("collisions under load")
            stack.sandbox_knobs(bot_echo_event="messages.upsert")
            col_tenants = [make_tenant(stack, f"bench-col-{i}-{token_hex()}") for i in range(2)]
            col = collisions.run(stack, watcher, col_tenants, cfg["collision_chats"], cfg["collision_window"],
                                 cfg["collision_settle"])
            stack.sandbox_knobs(bot_echo_event="send.message")
            r["collisions"] = asdict(col)

        if "faults" in phases:
            settle(stack)
            say("faults")
            fault_tenants = [make_tenant(stack, f"bench-fault-{i}-{token_hex()}", {"fallback_providers": []})
                             for i in range(2)]
            f = faults.run(stack, watcher, fault_tenants, cfg["fault_chats"], cfg["fault_messages"],
                           cfg["fault_window"], cfg["fault_settle"], restart_postgres=bool(stack.private_pg_port))
            r["faults"] = asdict(f)

        if cfg["queue"] and "queue" in phases:
            for workers in (1, 2):
                say(f"queue mode: n8n again with {workers} worker(s) (Redis, prefix of this run)")
                stack.set_queue_workers(workers)
                closed_loop(stack, watcher, chats, 4, 20, 60, label="queue warm-up")
                q = {}
                for c, n in cfg["queue_levels"].items():
                    settle(stack)
                    res = closed_loop(stack, watcher, chats, c, n, cfg["queue_seconds"], label=f"queue {workers}w")
                    loops.append(res)
                    q[c] = _loop_summary(res)
                r["queue"][workers] = q

        if "legacy" in phases:
            # the opt-in: measured, never the default (n8n calls it no longer secure)
            say("n8n again with N8N_EXPRESSION_ENGINE=legacy (the documented opt-in), regular mode")
            stack.env["N8N_EXPRESSION_ENGINE"] = "legacy"
            stack.set_queue_workers(0)
            closed_loop(stack, watcher, chats, 4, 20, 60, label="legacy warm-up")
            leg = {}
            for c, n in ((1, cfg["legacy_c1"]), (16, cfg["legacy_c16"])):
                settle(stack)
                res = closed_loop(stack, watcher, chats, c, n, cfg["level_seconds"], label="legacy engine")
                loops.append(res)
                leg[c] = _loop_summary(res)
            settle(stack)
            t = trivial_loop(stack, body, 16, cfg["trivial_seconds"], cfg["trivial_max"])
            leg["trivial_c16"] = t.rate
            r["legacy"] = leg

        # lost / duplicated over every loop, once late replies had their chance
        time.sleep(3)
        markers = [m for res in loops for m in res.markers]
        refused = {m for res in loops for m in res.refused_markers}
        r["lost"] = sum(1 for m in markers if m not in refused and not watcher.replies_for(m))
        r["duplicated"] = duplicates(watcher, markers)
        r["refused"] = sum(res.refused for res in loops)
        r["messages_total"] = len(markers)
    finally:
        watcher.stop()
    r["minutes"] = (time.monotonic() - started) / 60
    return r


def report_p50(values):
    return percentile(values, 50)


def _sample_body(stack, tenant):
    return customer_body(stack, tenant, new_number(), question(0))


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    quick = os.environ.get("BENCH_QUICK") == "1"
    cfg = QUICK if quick else FULL
    phases = tuple(p.strip() for p in os.environ.get("BENCH_PHASES", "").split(",") if p.strip()) or PHASES
    unknown = set(phases) - set(PHASES)
    if unknown:
        print(f"BENCH_PHASES: unknown {sorted(unknown)}; known: {', '.join(PHASES)}", file=sys.stderr)
        return 2
    fallback = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    # Ctrl-C and a plain kill both end in the finally below
    signal.signal(signal.SIGTERM, _interrupted)
    stack = BenchStack.build(fallback)
    say(f"{'quick' if quick else 'full'} run; stack folder {stack.tmp_root}; Postgres "
        f"{'private cluster on port ' + str(stack.private_pg_port) if stack.private_pg_port else stack.server_url}")
    try:
        say("starting services, importing flows, starting n8n")
        stack.start_all()
        say(f"stack up: n8n {stack.url('n8n')}, sandbox {stack.url('sandbox')}")
        results = measure(stack, cfg, quick, phases)
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
        return 130
    finally:
        stack.teardown()
    text = report.markdown({**results, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    print()
    print(text)
    if os.environ.get("BENCH_NO_DOC") != "1" and phases == PHASES:
        path = report.write(results)
        say(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
