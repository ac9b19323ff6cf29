"""Prices of LLM models (USD per million tokens) and of transcription (USD
per minute), and what a set of replies and voice notes cost: the llm service's GET /api/usage and the daily budget rule (the
collision service, core/decide.py) both count with them.

The built-in table below covers a few known models; LLM_PRICES (JSON
{"model": {"input": n, "output": n}}) adds to it or replaces entries. A
model also takes the price of the longest entry it begins with followed by
"-" (claude-haiku-4-5-20251001 -> claude-haiku-4-5). A model without a
price has cost null (and counts as nothing against a budget)."""
from __future__ import annotations

import json

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


# transcription, USD per minute of audio (OpenAI bills by the second); here
# rather than in the llm service because the daily budget counts it too
TRANSCRIPTION_PRICES: dict[str, float] = {
    "whisper-1": 0.006,
    "gpt-4o-transcribe": 0.006,
    "gpt-4o-mini-transcribe": 0.003,
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


def transcription_cost(model: str | None, seconds: float) -> float | None:
    per_minute = price_of(model, TRANSCRIPTION_PRICES)
    return None if per_minute is None else round(float(seconds) / 60 * per_minute, 6)


def spend_usd(rows: list[dict], prices: dict, transcriptions: list[dict] = ()) -> float:
    """The estimated cost of usage rows ({"model", "tokens_in", "tokens_out"},
    as reply_tokens.usage_rows gives them) and of the voice notes transcribed
    ({"model", "seconds"}, as messages.transcription_usage_rows gives them);
    models without a price count as nothing."""
    costs = [estimate_cost(row["model"], int(row["tokens_in"]), int(row["tokens_out"]), prices) for row in rows]
    costs += [transcription_cost(row["model"], row["seconds"]) for row in transcriptions]
    return round(sum(cost for cost in costs if cost is not None), 6)
