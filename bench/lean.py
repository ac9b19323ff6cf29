"""The lean n8n path (#18), measured side by side in one run: the same
loops on the same stack, once per variant, each variant adding one change
to the one before. A variant is n8n restarted with its flows and settings,
and the bench tenants' Evolution webhooks pointed the variant's way.

    before             the inbound flow of 2026-11-30 (bench/flows_before/inbound.json),
                       every Evolution event on /webhook/evolution: the bot's
                       echo runs the whole inbound flow
    lean echo          the same inbound flow; each event on its own path
                       (byEvents), the echo on flows/echo.json
    lean message path  flows/inbound.json as shipped: the webhook's raw body,
                       one switch on the service's route, the debounce wait always,
                       an IF before the send, nothing after it
    + compile cache    N8N_EXPRESSION_ENGINE_COMPILE_CACHE=true (n8n: experimental;
                       shipped on, ops/n8n.py)
    + insights off     N8N_DISABLED_MODULES also lists insights (n8n's per-execution
                       statistics rows): tried, not shipped

For each: latency at concurrency 1, replies/s at 16, the trivial workflow at
16 on the same n8n, the ratio, CPU per reply (n8n, each service, Postgres)
and n8n's own count of expression isolates and evaluations per reply."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import requests

from ops.n8n import N8N_DEFAULTS
from python_services.common.config import PROJECT_ROOT

from . import cpu, n8n_metrics
from .common import say
from .throughput import closed_loop, trivial_loop

BEFORE_FLOWS = Path(__file__).with_name("flows_before")


@dataclass
class Variant:
    key: str
    label: str
    inbound_dir: Path          # where inbound.json comes from (the rest: flows/)
    by_events: bool            # Evolution posts each event on a path of its own
    env: dict = field(default_factory=dict)


def variants(shipped_env: dict) -> list[Variant]:
    """Each column's flows and n8n settings (every column names the settings it
    changes, whatever the shipped defaults are: ops/n8n.py N8N_DEFAULTS)."""
    no_cache = {"N8N_EXPRESSION_ENGINE_COMPILE_CACHE": "false"}
    cache = {"N8N_EXPRESSION_ENGINE_COMPILE_CACHE": "true"}
    modules = shipped_env.get("N8N_DISABLED_MODULES") or N8N_DEFAULTS["N8N_DISABLED_MODULES"]
    insights_off = ",".join(dict.fromkeys([*modules.split(","), "insights"]))
    flows = PROJECT_ROOT / "flows"
    return [
        Variant("before", "before (2026-11-30 flow)", BEFORE_FLOWS, False, no_cache),
        Variant("echo", "+ lean echo flow", BEFORE_FLOWS, True, no_cache),
        Variant("message", "+ lean message path", flows, True, no_cache),
        Variant("cache", "+ compile cache (kept)", flows, True, cache),
        Variant("insights", "+ insights module off (tried)", flows, True,
                {**cache, "N8N_DISABLED_MODULES": insights_off}),
    ]


def point_webhooks(stack, tenants, by_events: bool) -> None:
    """Each bench tenant's Evolution webhook (the sandbox's), one URL or one path per event."""
    for t in tenants:
        body = {"webhook": {"enabled": True, "url": stack.webhook_url, "headers": {"X-Webhook-Secret": t.secret},
                            "byEvents": by_events, "base64": False,
                            "events": ["MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED"]}}
        resp = requests.post(f"{stack.url('sandbox')}/webhook/set/{t.instance}", json=body,
                             headers={"apikey": t.apikey}, timeout=10)
        resp.raise_for_status()


def run(stack, watcher, tenants, chats, cfg, body, settle) -> tuple[list[dict], list]:
    """Every variant in turn: (a row per variant, the loops run for the lost
    and duplicated count); the stack is left as shipped (flows/, its env, byEvents)."""
    shipped = dict(stack.env)
    out, loops = [], []
    try:
        for v in variants(shipped):
            say(f"lean path: variant {v.label!r}")
            stack.env.clear()
            stack.env.update({**shipped, **v.env})
            stack.use_flows(v.inbound_dir)
            point_webhooks(stack, tenants, v.by_events)
            closed_loop(stack, watcher, chats, 4, 20, 60, label=f"{v.key} warm-up")
            settle(stack)
            before, seen = cpu.reading(stack), n8n_metrics.scrape(stack)
            c1 = closed_loop(stack, watcher, chats, 1, cfg["lean_c1"], cfg["lean_seconds"], label=f"{v.key}")
            settle(stack)  # the last echoes too
            after, seen_after = cpu.reading(stack), n8n_metrics.scrape(stack)
            c16 = closed_loop(stack, watcher, chats, 16, cfg["lean_c16"], cfg["lean_seconds"], label=f"{v.key}")
            settle(stack)
            trivial_before = cpu.reading(stack)
            trivial = trivial_loop(stack, body, 16, cfg["trivial_seconds"], cfg["trivial_max"])
            trivial_cpu = cpu.per_reply_ms(trivial_before, cpu.reading(stack), trivial.requests)
            loops += [c1, c16]
            out.append({
                "key": v.key, "label": v.label,
                "c1": {"p50": c1.pct(50), "p99": c1.pct(99), "replies": c1.replies, "lost": len(c1.lost),
                       "refused": c1.refused},
                "c16": {"rate": c16.rate, "replies": c16.replies, "lost": len(c16.lost), "refused": c16.refused},
                "trivial_c16": trivial.rate,
                # n8n's CPU for one execution of the trivial workflow: what any execution costs
                "trivial_n8n_cpu_ms": (trivial_cpu or {}).get("n8n"),
                "ratio_c16": c16.rate / trivial.rate if trivial.rate else None,
                "cpu_ms": cpu.per_reply_ms(before, after, c1.replies),
                "n8n": n8n_metrics.per_reply(seen, seen_after, c1.replies),
            })
    finally:
        say("lean path: back to the shipped flows and settings")
        stack.env.clear()
        stack.env.update(shipped)
        stack.use_flows(PROJECT_ROOT / "flows")
        point_webhooks(stack, tenants, True)
    return out, loops
