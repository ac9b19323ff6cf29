"""Cost accounting: the tokens recorded on reply tokens, summed per tenant
and UTC day, with an estimated cost from the per-model price table
(core/prices.py: USD per million tokens, LLM_PRICES on top of the built-in
table; a model without a price has cost null)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from ..common import metrics
# the price table is core's: the daily budget rule counts with it too
from ..core.prices import (DEFAULT_PRICES, TRANSCRIPTION_PRICES, estimate_cost, load_prices,  # noqa: F401
                           price_of, transcription_cost)
from ..core.settings import PROVIDERS


def _add(total, cost):
    """A day's cost: null once any part of it has no price (a partial sum would mislead)."""
    return None if cost is None or total is None else round(total + cost, 6)


def _day(days: dict, row: dict) -> dict:
    key = (str(row["tenant_id"]), row["day"])
    return days.setdefault(key, {
        "tenant_id": key[0], "day": row["day"].isoformat(),
        "replies": 0, "failed": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0, "models": [],
        # photos shown to the model (their tokens are part of tokens_in) and voice notes transcribed
        "images": 0, "image_tokens": 0, "transcriptions": 0, "transcription_seconds": 0.0,
        "transcription_models": [],
    })


def summarize(rows: list[dict], prices: dict, transcriptions: list[dict] = ()) -> list[dict]:
    """One entry per tenant and day (replies: tokens that reached the llm
    service, failed ones included and also counted in failed), with the
    models it used, the photos it showed them, and the voice notes it
    transcribed (messages.transcription_usage_rows). A day's cost is
    null when one of its models has no price (a partial sum would mislead)."""
    days: dict[tuple, dict] = {}
    for row in rows:
        day = _day(days, row)
        tokens_in, tokens_out = int(row["tokens_in"]), int(row["tokens_out"])
        # a reply no model wrote (the voice-note answer, the away message) costs nothing
        cost = 0.0 if tokens_in == tokens_out == 0 else estimate_cost(row["model"], tokens_in, tokens_out, prices)
        day["models"].append({
            "provider": row["provider"], "model": row["model"], "replies": int(row["replies"]),
            "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost,
        })
        day["replies"] += int(row["replies"])
        day["failed"] += int(row["failed"])
        day["tokens_in"] += tokens_in
        day["tokens_out"] += tokens_out
        day["images"] += int(row.get("images") or 0)
        day["image_tokens"] += int(row.get("image_tokens") or 0)
        day["cost_usd"] = _add(day["cost_usd"], cost)
    for row in transcriptions:
        day = _day(days, row)
        seconds = round(float(row["seconds"]), 1)
        cost = transcription_cost(row["model"], seconds)
        day["transcription_models"].append({"provider": row["provider"], "model": row["model"],
                                            "transcriptions": int(row["transcriptions"]), "seconds": seconds,
                                            "cost_usd": cost})
        day["transcriptions"] += int(row["transcriptions"])
        day["transcription_seconds"] = round(day["transcription_seconds"] + seconds, 1)
        day["cost_usd"] = _add(day["cost_usd"], cost)
    return sorted(days.values(), key=lambda d: (d["tenant_id"], d["day"]))


def usage_since(days: int, today: date | None = None) -> datetime:
    """The start (UTC midnight) of a window of `days` days that ends today."""
    today = today or datetime.now(timezone.utc).date()
    first = today - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=timezone.utc)


# ---------------------------------------------------------------- metrics (docs/metrics.md)


def model_label(model: str | None, prices: dict) -> str:
    """A model as a metrics label: the price-table entry it is priced by
    (claude-haiku-4-5-20251001 -> claude-haiku-4-5), else "other". A tenant
    may name any model, and a label must come from a bounded set; LLM_PRICES
    adds a model (at any price, 0 included) to the set."""
    price = price_of(model, prices)
    return next((name for name, entry in prices.items() if entry is price), "other")


def provider_label(provider: str | None) -> str:
    return provider if provider in PROVIDERS else "other"


def count_reply_usage(provider: str | None, model: str | None, tokens_in: int, tokens_out: int,
                      prices: dict) -> None:
    """A reply's tokens and estimated cost, added to the metrics (a reply no model wrote adds nothing)."""
    if not (tokens_in or tokens_out):
        return
    labels = (provider_label(provider), model_label(model, prices))
    metrics.LLM_TOKENS.labels(*labels, "input").inc(tokens_in)
    metrics.LLM_TOKENS.labels(*labels, "output").inc(tokens_out)
    cost = estimate_cost(model, tokens_in, tokens_out, prices)
    if cost:
        metrics.LLM_COST.labels(*labels).inc(cost)


def count_transcription_cost(provider: str | None, model: str | None, seconds: float | None) -> None:
    """A voice note's transcription cost (priced per minute, no tokens), added to the metrics."""
    cost = transcription_cost(model, seconds) if seconds else None
    if cost:
        metrics.LLM_COST.labels(provider_label(provider), model_label(model, TRANSCRIPTION_PRICES)).inc(cost)
