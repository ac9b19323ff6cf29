"""The figures as Markdown: printed at the end of the run and written to
docs/benchmarks.md, with the machine's description, the targets (PASS /
SHORT) and the hand-written account of what was tried (bench/notes.md).
Sections measured by their own scripts (bench/pool_sessions.py) stand after
the KEPT_FROM line at the end of the doc, and writing keeps them as they are."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from python_services.common.config import PROJECT_ROOT

NOTES = Path(__file__).with_name("notes.md")
DOC = PROJECT_ROOT / "docs" / "benchmarks.md"
# from this line to the end the doc is not make bench's: write() keeps it
KEPT_FROM = "<!-- sections below are measured by their own scripts and kept by make bench -->"

P50_TARGET_MS = 60
P99_TARGET_MS = 250
RATIO_TARGET = 0.6


def _ms(v) -> str:
    return "–" if v is None else f"{v:.0f} ms"


def _rate(v) -> str:
    return "–" if v is None else f"{v:.1f}/s"


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**SHORT**"


def targets(r: dict) -> list[tuple[str, str, str, bool]]:
    """(what, measured, target, met)"""
    c1 = r["loops"].get(1)
    out = []
    if c1:
        out.append(("webhook→sendText p50, concurrency 1", _ms(c1["p50"]), f"≤ {P50_TARGET_MS} ms",
                    c1["p50"] is not None and c1["p50"] <= P50_TARGET_MS))
        out.append(("webhook→sendText p99, concurrency 1", _ms(c1["p99"]), f"≤ {P99_TARGET_MS} ms",
                    c1["p99"] is not None and c1["p99"] <= P99_TARGET_MS))
    ratio = r.get("ratio_c16")
    if ratio is not None:
        out.append(("full reply path ÷ trivial workflow, concurrency 16", f"{ratio:.2f}", f"≥ {RATIO_TARGET}",
                    ratio >= RATIO_TARGET))
    out.append(("lost replies", str(r["lost"]), "0", r["lost"] == 0))
    out.append(("duplicated replies", str(r["duplicated"]), "0", r["duplicated"] == 0))
    col = r.get("collisions")
    if col:
        out.append(("replies claimed after an owner's message", str(col["claimed_after_owner"]), "0",
                    col["claimed_after_owner"] == 0))
        echo = col["echo_takeovers"] + col["paused_without_owner"]
        out.append(("pauses caused by the bot's own echoes", str(echo), "0", echo == 0))
    faults = r.get("faults")
    if faults:
        out.append(("messages silently lost under faults", str(faults["lost"]), "0", faults["lost"] == 0))
        out.append(("duplicated replies under faults", str(faults["duplicated_replies"]), "0",
                    faults["duplicated_replies"] == 0))
        out.append(("bot echoes taken for a person under faults", str(faults.get("echo_takeovers", 0)), "0",
                    faults.get("echo_takeovers", 0) == 0))
        out.append(("messages n8n turns away while restarting (Evolution drops a 4xx)",
                    str(faults.get("turned_away_while_starting", 0)), "0",
                    faults.get("turned_away_while_starting", 0) == 0))
    for fz in r.get("fuzz", []):
        measured = str(fz["server_errors"])
        if fz["target"] == "n8n":
            measured += f" ({fz.get('service_5xx', 0)} from HybridFlow's services, the rest n8n's own)"
        out.append((f"fuzz via {fz['target']}: 5xx answers", measured, "0", fz["server_errors"] == 0))
        out.append((f"fuzz via {fz['target']}: rows written for refused bodies", str(fz["rows_for_refused"]), "0",
                    fz["rows_for_refused"] == 0))
    return out


def markdown(r: dict) -> str:
    sections = (_intro, _the_machine, _targets, _the_lean_path, _latency_and_throughput, _the_ceiling,
                _where_the_time_goes, _cpu_per_reply,
                _collisions_under_load, _faults, _fuzzing, _short_of_the_targets)
    return "\n".join(line for section in sections for line in section(r))


def _intro(r: dict) -> list[str]:
    return [
        "# Benchmarks",
        "",
        f"Written by `make bench` ({'BENCH_QUICK=1, a short run' if r['quick'] else 'full run'}) on "
        f"{r['finished']} in {r['minutes']:.1f} minutes. Figures, never timed assertions; "
        "rerun `make bench` to refresh this page (the sections at its end, measured by their own "
        "scripts, are kept).",
        "",
    ]


def _the_machine(r: dict) -> list[str]:
    m = r["machine"]
    return [
        "## The machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPU | {m['cpus']} × {m['cpu']} |",
        f"| memory | {m['memory_gb']} GB |",
        f"| kernel | Linux {m['kernel']} |",
        f"| versions | n8n {m['n8n']} on Node {m['node']}, Python {m['python']}, gunicorn {m['gunicorn']}, "
        f"PostgreSQL {m['postgres']} ({m['postgres_where']}) |",
        f"| services | gunicorn {m['gunicorn_workers']} workers × {m['gunicorn_threads']} threads each "
        "(the sandbox: 1 × 64) |",
        f"| n8n | expression engine: {m['expression_engine']}; successful executions saved: "
        f"{m['save_on_success']}; errors saved |",
        f"| load average at start | {m['load_at_start']:.2f} |",
        "",
        "The stack is the one `make up` runs, on free ports, with the fake LLM answering at once, the sandbox "
        "as Evolution (the bot's sends come back as webhooks, as from a real server), debounce 0 and typing "
        "off. Messages are posted straight to n8n's `/webhook/evolution`; a reply's time is when the "
        "sandbox received its `sendText`.",
        "",
    ]


def _targets(r: dict) -> list[str]:
    lines = ["## Targets", "", "| what | measured | target | |", "| --- | --- | --- | --- |"]
    lines += [f"| {what} | {measured} | {target} | {verdict(ok)} |" for what, measured, target, ok in targets(r)]
    return lines + [""]


def _loop_row(mode: str, c, x: dict) -> str:
    return (f"| {mode} | {c} | {x['sent']} | {_rate(x['rate'])} | {_ms(x['p50'])} | {_ms(x['p95'])} | "
            f"{_ms(x['p99'])} | {x['lost']} |")


def _latency_and_throughput(r: dict) -> list[str]:
    lines = ["## Latency and throughput", "",
             f"{r['messages_total']} messages over {r['chats']} chats in {r['tenants']} tenants; at concurrency "
             "N, N conversations run at once, each waiting for its reply before the next message.", "",
             "| mode | concurrency | messages | replies/s | p50 | p95 | p99 | lost |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for mode, loops in (("regular", r["loops"]), *((f"queue, {w} worker{'s' if w > 1 else ''}", q)
                                                   for w, q in r.get("queue", {}).items())):
        lines += [_loop_row(mode, c, x) for c, x in sorted(loops.items())]
    if not r.get("queue"):
        lines.append("| queue | – | – | – | – | – | – | skipped (BENCH_QUICK) |")
    leg = r.get("legacy") or {}
    lines += [_loop_row("regular, `N8N_EXPRESSION_ENGINE=legacy` (opt-in)", c, leg[c]) for c in (1, 16) if leg.get(c)]
    return lines + ["", f"Lost replies: {r['lost']}; duplicated replies: {r['duplicated']}; "
                    f"webhooks not answered 200: {r['refused']}.", ""]


def _the_ceiling(r: dict) -> list[str]:
    lines = ["## The ceiling: a trivial workflow on the same n8n", "",
             "`bench/trivial_flow.json` (Webhook → Respond to Webhook) imported on the same n8n with the same "
             "settings and posted the same body.", "",
             "| concurrency | requests/s | p50 | full reply path replies/s | ratio |",
             "| --- | --- | --- | --- | --- |"]
    for c, t in sorted(r["trivial"].items()):
        full = r["loops"].get(c, {}).get("rate")
        ratio = f"{full / t['rate']:.2f}" if full and t["rate"] else "–"
        lines.append(f"| {c} | {_rate(t['rate'])} | {_ms(t['p50'])} | {_rate(full)} | {ratio} |")
    leg = r.get("legacy")
    if leg and leg.get("trivial_c16") and leg.get(16):
        lines.append(f"| 16, legacy engine (opt-in) | {_rate(leg['trivial_c16'])} | – | {_rate(leg[16]['rate'])} | "
                     f"{leg[16]['rate'] / leg['trivial_c16']:.2f} |")
    return lines + [""]


def _f(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def _the_lean_path(r: dict) -> list[str]:
    rows = r.get("lean")
    if not rows:
        return []
    heads = [row["label"] for row in rows]

    def line(what: str, value) -> str:
        return f"| {what} | " + " | ".join(value(row) for row in rows) + " |"

    def cpu(key):
        return lambda row: _f((row.get("cpu_ms") or {}).get(key), ".1f")

    def n8n(key, fmt):
        return lambda row: _f((row.get("n8n") or {}).get(key), fmt)

    return [
        "## The lean n8n path, before and after (#18)", "",
        "One stack, one run: n8n restarted for each column with its flows and settings, each column adding one "
        "change to the one on its left (`bench/lean.py`). *before* is the inbound flow as it was on 2026-11-30 "
        "(`bench/flows_before/inbound.json`) with every Evolution event on `/webhook/evolution`; *lean echo* "
        "points each event at its own path (`byEvents`), so the bot's echo runs `flows/echo.json`; *lean message "
        "path* is `flows/inbound.json` as shipped; the last columns add n8n settings. CPU is per reply at "
        "concurrency 1, the echo included (all processes of each part, from /proc); isolates and expressions are "
        "n8n's own counters (`N8N_METRICS`).", "",
        "| | " + " | ".join(heads) + " |",
        "| --- | " + " | ".join("---" for _ in rows) + " |",
        line("p50, concurrency 1", lambda row: _ms(row["c1"]["p50"])),
        line("p99, concurrency 1", lambda row: _ms(row["c1"]["p99"])),
        line("replies/s at 16", lambda row: _rate(row["c16"]["rate"])),
        line("trivial workflow at 16", lambda row: _rate(row["trivial_c16"])),
        line("ratio at 16", lambda row: _f(row["ratio_c16"], ".2f")),
        line("lost", lambda row: str(row["c1"]["lost"] + row["c16"]["lost"])),
        line("webhooks not answered 200", lambda row: str(row["c1"].get("refused", 0) + row["c16"].get("refused", 0))),
        line("n8n CPU per reply", lambda row: _f((row.get("cpu_ms") or {}).get("n8n"), ".1f") + " ms"),
        line("n8n CPU per trivial execution (Webhook → Respond: any execution's floor)",
             lambda row: _f(row.get("trivial_n8n_cpu_ms"), ".1f") + " ms"),
        line("services CPU per reply (collision + llm + evolution)", lambda row: _f(
            sum((row.get("cpu_ms") or {}).get(k, 0) for k in ("collision", "llm", "evolution"))
            if row.get("cpu_ms") else None, ".1f") + " ms"),
        line("Postgres CPU per reply", cpu("postgres")),
        line("isolates per reply (n8n executions that evaluate anything)", n8n("isolates", ".2f")),
        line("expressions evaluated per reply", n8n("expressions", ".1f")),
        line("time evaluating them per reply", lambda row: _f((row.get("n8n") or {}).get("expression_ms"), ".1f")
             + " ms"),
        "",
    ]


def _cpu_per_reply(r: dict) -> list[str]:
    cpu = r.get("cpu_ms")
    if not cpu:
        return []
    total = sum(cpu.values())
    n8n = r.get("n8n_per_reply") or {}
    lines = ["## CPU per reply (concurrency 1, the shipped configuration)", "",
             "CPU time of every process of each part during the latency loop, divided by its replies (the echo "
             "of each reply included); the sizing model in docs/scaling.md starts from these figures.", "",
             "| part | CPU ms per reply | share |", "| --- | --- | --- |"]
    lines += [f"| {k} | {v:.1f} | {v / total * 100:.0f} % |" for k, v in cpu.items()] if total else []
    lines.append(f"| **all** | **{total:.1f}** | |")
    if n8n:
        lines += ["", f"n8n per reply: {n8n['isolates']:.2f} expression isolates taken (each built anew), "
                  f"{n8n['expressions']:.1f} expressions evaluated in {n8n['expression_ms']:.1f} ms."]
    return lines + [""]


TIME_PARTS = (("n8n_and_hops", "n8n (nodes, expressions, webhook) and HTTP hops"),
              ("collision", "collision service (Python, excluding Postgres)"),
              ("llm", "llm service (Python + the fake LLM, excluding Postgres)"),
              ("evolution", "evolution service (Python + the sandbox's sendText, excluding Postgres)"),
              ("postgres", "Postgres (all three services)"))


def _where_the_time_goes(r: dict) -> list[str]:
    wt = r.get("where")
    if not wt:
        return []
    lines = ["## Where the time goes (concurrency 1, mean per reply)", "",
             "From the services' JSON request lines (`duration_ms`, and `db_ms`: time in Postgres); "
             "n8n's share is the end-to-end time minus the three service calls, so it holds n8n's own "
             "work (about a dozen nodes, expressions, the webhook) and the three HTTP hops. The evolution "
             "call also includes confirming the send after Evolution answered, which lies past the "
             "sendText's arrival: n8n's share is, if anything, under-counted.", "",
             "| part | ms | share |", "| --- | --- | --- |"]
    total = wt["end_to_end"]
    lines += [f"| {label} | {wt[key]:.1f} | {wt[key] / total * 100:.0f} % |" for key, label in TIME_PARTS]
    lines.append(f"| **end to end (mean)** | **{total:.1f}** | |")
    return lines + ["", "Per request: " + "; ".join(
        f"{k.replace('_', ' ')} {v['ms']:.1f} ms (Postgres {v['db_ms']:.1f} ms, n={v['count']})"
        for k, v in r["hot"].items() if v["ms"] is not None) + ".", ""]


def _collisions_under_load(r: dict) -> list[str]:
    col = r.get("collisions")
    if not col:
        return []
    return ["## Collisions under load", "",
            f"{col['chats']} chats, {col['customer_messages']} customer and {col['owner_messages']} owner "
            f"messages at random moments over {col['seconds']:.0f} s ({col['chats_with_owner']} chats with "
            "an owner, a third of them writing right after the customer); the bot's own sends come back "
            "as `fromMe` upserts (Evolution 2.2), the shape most like a person typing.", "",
            "| | |", "| --- | --- |",
            f"| replies sent | {col['replies_sent']} |",
            f"| replies claimed after an owner's message was recorded (must be 0) | {col['claimed_after_owner']} |",
            f"| human_takeover events that were the bot's own echo (must be 0) | {col['echo_takeovers']} |",
            f"| chats paused where no owner wrote (must be 0) | {col['paused_without_owner']} |",
            f"| replies claimed before the owner wrote, reaching Evolution just after (allowed) | "
            f"{col['in_flight_after_owner']} |",
            f"| replies still open at the end | {col['open_tokens']} |",
            f"| decisions | {', '.join(f'{k} {v}' for k, v in col['decisions'].items())} |", ""]


def _faults(r: dict) -> list[str]:
    f = r.get("faults")
    if not f:
        return []
    lines = ["## Faults", "",
             f"{f['messages']} messages, each delivered 4 times at once; Evolution answering 500 to 10 % of "
             "sends and stalling 2 s on another 10 %; the LLM answering 429/500 to 10 % of calls; "
             + ("Postgres restarted; " if f["postgres_restarted"] else "Postgres NOT restarted (no private "
                "cluster possible); ")
             + "n8n killed with SIGKILL and started again. " + " ".join(e + "." for e in f["events"]), "",
             "| | |", "| --- | --- |",
             f"| deliveries posted (4 per message, retried like Evolution) | {f['deliveries']} |",
             f"| messages acknowledged with 200 | {f['accepted']} (never: {f['never_accepted']}) |",
             f"| last answers of deliveries that never got a 200 | "
             f"{', '.join(f'{k}: {v}' for k, v in f.get('final_statuses', {}).items()) or 'none'} |",
             f"| messages in (recorded once each) | {f['messages_in']} |",
             f"| duplicate deliveries recorded as `duplicate` | {f['duplicate_deliveries_recorded']} |",
             f"| replies out | {f['replies_out']} |",
             f"| duplicated replies (must be 0) | {f['duplicated_replies']} |",
             f"| reply tokens | {', '.join(f'{k} {v}' for k, v in f['tokens'].items())} |",
             f"| failures recorded (failed, with the error) | {f['failures_recorded']} |",
             f"| silently lost (must be 0) | {f['lost']} |",
             f"| the bot's own echoes taken for a person (no owner writes here; must be 0) | "
             f"{f.get('echo_takeovers', 0)} |",
             f"| messages n8n turned away with its start-up 404 (retried here; Evolution would drop "
             f"them) | {f.get('turned_away_while_starting', 0)} |",
             f"| time for everything to end after the last message | {f['settle_seconds']:.0f} s |", ""]
    if f["failure_examples"]:
        lines += ["Recorded failures, by error:", ""]
        lines += [f"- {n} × `{err}`" for err, n in f["failure_examples"]]
        lines.append("")
    if f["lost_examples"]:
        lines += ["Lost: " + "; ".join(f["lost_examples"]), ""]
    if f.get("refusal_examples"):
        lines += ["Deliveries never answered 200, last answers: "
                  + "; ".join(f"`{e[:120]}`" for e in f["refusal_examples"]), ""]
    return lines


def _fuzzing(r: dict) -> list[str]:
    if not r.get("fuzz"):
        return []
    lines = ["## Fuzzing", "",
             "Hypothesis-made webhook bodies (`testkit/fuzz_bodies.py`): wrong types, missing fields, strings "
             "up to 1 MB, NUL and lone surrogates, bidi and combining marks, nesting up to 20 000 deep, "
             "extra keys, no object at all, not JSON.", "",
             "| target | bodies | answers | 5xx (must be 0) | of which from the services | "
             "rows for refused bodies (must be 0) | failed n8n executions recorded (flow_errors) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for fz in r["fuzz"]:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(fz["statuses"].items(), key=lambda kv: str(kv[0])))
        lines.append(f"| {fz['target']} | {fz['bodies']} | {statuses} | {fz['server_errors']} | "
                     f"{fz.get('service_5xx', 0)} | {fz['rows_for_refused']} | {fz.get('flow_errors', 0)} |")
    lines.append("")
    lines += [f"- 5xx via {fz['target']}: `{ex[:200]}`" for fz in r["fuzz"] for ex in fz["examples_5xx"][:3]]
    return lines + [""]


def _short_of_the_targets(r: dict) -> list[str]:
    short = [t for t in targets(r) if not t[3]]
    lines = ["## What is short of the targets, and why", ""]
    if short:
        lines += [f"- {what}: {measured} (target {target})." for what, measured, target, _ in short]
    else:
        lines.append("- Nothing in this run.")
    lines.append("")
    if NOTES.exists():
        lines += [NOTES.read_text().rstrip(), ""]
    return lines


def kept_sections(text: str) -> str:
    """The doc from the KEPT_FROM line to its end; '' when it has no such line."""
    found = re.search(rf"^{re.escape(KEPT_FROM)}$", text, re.M)
    return text[found.start():] if found else ""


def write(r: dict, path: Path = DOC) -> Path:
    """The run's figures to `path`, keeping the sections after KEPT_FROM that are there."""
    r.setdefault("finished", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    kept = kept_sections(path.read_text()) if path.exists() else ""
    path.write_text(markdown(r) + (f"\n{kept}" if kept else ""))
    return path
