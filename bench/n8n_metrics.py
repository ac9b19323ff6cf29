"""n8n's own counters of its expression engine (N8N_METRICS, main process):
isolates taken from the pool (one per execution that evaluates anything;
each is disposed of afterwards and a new one built) and expressions
evaluated, with their time. Read before and after a loop, per reply."""
from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

WANTED = {
    "n8n_expression_pool_acquired_total": "isolates",
    "n8n_expression_evaluation_duration_seconds_count": "expressions",
    "n8n_expression_evaluation_duration_seconds_sum": "expression_seconds",
}


def scrape(stack) -> dict[str, float]:
    """The counters now (zeros where n8n does not answer or has none yet)."""
    out = {v: 0.0 for v in WANTED.values()}
    try:
        text = requests.get(stack.url("n8n") + "/metrics", timeout=10).text
    except requests.RequestException:
        return out
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = WANTED.get(sample.name)
            if key:
                out[key] += sample.value
    return out


def per_reply(before: dict, after: dict, replies: int) -> dict[str, float] | None:
    """Isolates and expressions per reply, and the milliseconds spent evaluating them."""
    if not replies:
        return None
    return {
        "isolates": (after["isolates"] - before["isolates"]) / replies,
        "expressions": (after["expressions"] - before["expressions"]) / replies,
        "expression_ms": (after["expression_seconds"] - before["expression_seconds"]) * 1000 / replies,
    }
