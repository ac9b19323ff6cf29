"""Where the time goes, from the services' JSON request lines (duration_ms,
db_ms, path, decision) written while a phase ran."""
from __future__ import annotations

import json

from .common import mean

SERVICES = ("collision", "llm", "evolution")


def mark(stack) -> dict:
    """The current end of each service's log (read what comes after it later)."""
    out = {}
    for name in SERVICES:
        path = stack.log_file(name)
        out[name] = path.stat().st_size if path.exists() else 0
    return out


def requests_since(stack, since: dict, until: dict | None = None) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for name in SERVICES:
        path = stack.log_file(name)
        lines = []
        if path.exists():
            with open(path, "rb") as fh:
                fh.seek(since.get(name, 0))
                raw = fh.read((until[name] - since.get(name, 0)) if until else -1)
            for line in raw.splitlines():
                if not line.startswith(b"{"):
                    continue  # gunicorn's own lines
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "request" and rec.get("duration_ms") is not None:
                    lines.append(rec)
        found[name] = lines
    return found


def _stats(recs: list[dict]) -> dict:
    return {
        "count": len(recs),
        "ms": mean(r["duration_ms"] for r in recs),
        "db_ms": mean((r.get("db_ms") or 0.0) for r in recs),
    }


def hot_path(reqs: dict[str, list[dict]]) -> dict:
    """The three calls of a reply (and the echo's call), mean ms and mean db ms per request."""
    collision = [r for r in reqs["collision"] if r.get("path") == "/webhooks/evolution"]
    return {
        "collision_reply": _stats([r for r in collision if r.get("decision") == "reply"]),
        "collision_echo": _stats([r for r in collision if r.get("decision") == "bot_echo"]),
        "llm_reply": _stats([r for r in reqs["llm"] if r.get("path") == "/reply"]),
        "evolution_send": _stats([r for r in reqs["evolution"] if r.get("path") == "/send"]),
    }


def where_time_goes(e2e_ms: float | None, hot: dict) -> dict | None:
    """Per reply at concurrency 1: each service's own time (its Postgres part
    apart), and what is left for n8n (its nodes and the HTTP hops)."""
    parts = ("collision_reply", "llm_reply", "evolution_send")
    if e2e_ms is None or any(hot[p]["ms"] is None for p in parts):
        return None
    services = {p: hot[p]["ms"] - hot[p]["db_ms"] for p in parts}
    postgres = sum(hot[p]["db_ms"] for p in parts)
    n8n = e2e_ms - sum(hot[p]["ms"] for p in parts)
    return {"end_to_end": e2e_ms, "n8n_and_hops": n8n, "postgres": postgres,
            "collision": services["collision_reply"], "llm": services["llm_reply"],
            "evolution": services["evolution_send"]}
