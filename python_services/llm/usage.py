"""Cost accounting: the tokens recorded on reply tokens, summed per tenant
and UTC day, with an estimated cost from a per-model price table.

Prices are USD per million tokens. The built-in table below covers a few
known models; LLM_PRICES (JSON {"model": {"input": n, "output": n}}) adds to
it or replaces entries. A model also takes the price of the longest entry it
begins with followed by "-" (claude-haiku-4-5-20251001 -> claude-haiku-4-5).
A model without a price has cost null."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "claude-haiku-4-5": {"input": 1.0, "output": 5.0},
    "claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
    "claude-sonnet-4-6": {"input": 3.0, "output": 15.0},
    "claude-opus-4-5": {"input": 5.0, "output": 25.0},
    "claude-opus-4-6": {"input": 5.0, "output": 25.0},
    "gpt-4.1": {"input": 2.0, "output": 8.0},
    "gpt-4.1-mini": {"input": 0.4, "output": 1.6},
    "gpt-4.1-nano": {"input": 0.1, "output": 0.4},
    "gpt-4o": {"input": 2.5, "output": 10.0},
    "gpt-4o-mini": {"input": 0.15, "output": 0.6},
    "gpt-5": {"input": 1.25, "output": 10.0},
    "gpt-5-mini": {"input": 0.25, "output": 2.0},
    # the offline provider costs nothing
    "knowledge-base": {"input": 0.0, "output": 0.0},
}


def load_prices(raw: str) -> dict[str, dict[str, float]]:
    """The built-in table with LLM_PRICES (raw JSON) on top; a malformed one stops the start."""
    raw = (raw or "").strip()
    if not raw:
        return dict(DEFAULT_PRICES)
    try:
        given = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"LLM_PRICES must be JSON {{\"model\": {{\"input\": n, \"output\": n}}}}: {exc}") from None
    if not isinstance(given, dict):
        raise ValueError("LLM_PRICES must be a JSON object keyed by model")
    prices = dict(DEFAULT_PRICES)
    for model, price in given.items():
        if not (isinstance(price, dict) and all(
            isinstance(price.get(k), (int, float)) and not isinstance(price.get(k), bool) and price[k] >= 0
            for k in ("input", "output")
        )):
            raise ValueError(f"LLM_PRICES[{model!r}] must be {{\"input\": usd_per_million, \"output\": usd_per_million}}")
        prices[model] = {"input": float(price["input"]), "output": float(price["output"])}
    return prices


def price_of(model: str | None, prices: dict) -> dict | None:
    if not model:
        return None
    if model in prices:
        return prices[model]
    stems = [name for name in prices if model.startswith(name + "-")]
    return prices[max(stems, key=len)] if stems else None


def estimate_cost(model: str | None, tokens_in: int, tokens_out: int, prices: dict) -> float | None:
    price = price_of(model, prices)
    if price is None:
        return None
    return round((tokens_in * price["input"] + tokens_out * price["output"]) / 1_000_000, 6)


def summarize(rows: list[dict], prices: dict) -> list[dict]:
    """One entry per tenant and day (replies: tokens that reached the llm
    service, failed ones included and also counted in failed), with the
    models it used. A day's cost is
    null when one of its models has no price (a partial sum would mislead)."""
    days: dict[tuple, dict] = {}
    for row in rows:
        key = (str(row["tenant_id"]), row["day"])
        day = days.setdefault(key, {
            "tenant_id": key[0], "day": row["day"].isoformat(),
            "replies": 0, "failed": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0, "models": [],
        })
        tokens_in, tokens_out = int(row["tokens_in"]), int(row["tokens_out"])
        cost = estimate_cost(row["model"], tokens_in, tokens_out, prices)
        day["models"].append({
            "provider": row["provider"], "model": row["model"], "replies": int(row["replies"]),
            "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost,
        })
        day["replies"] += int(row["replies"])
        day["failed"] += int(row["failed"])
        day["tokens_in"] += tokens_in
        day["tokens_out"] += tokens_out
        day["cost_usd"] = None if cost is None or day["cost_usd"] is None else round(day["cost_usd"] + cost, 6)
    return list(days.values())


def usage_since(days: int, today: date | None = None) -> datetime:
    """The start (UTC midnight) of a window of `days` days that ends today."""
    today = today or datetime.now(timezone.utc).date()
    first = today - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
