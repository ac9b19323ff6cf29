"""A tenant's usage, day by day (UTC days, as GET /api/usage counts them):
messages in, replies, takeovers, handoffs, response time, LLM tokens and
their estimated cost, in total and per provider. The console's usage page
draws it and offers it as CSV; the queries are the table modules' own."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from . import events, messages, reply_tokens
from .prices import estimate_cost, transcription_cost

WINDOWS = (7, 30, 90)  # the choices the page offers, in days
# the per-day numbers, in the order of the CSV's columns, with their names for people
DAILY = {
    "messages_in": "Messages from customers",
    "replies": "Replies sent by the assistant",
    "takeovers": "Takeovers (someone from the team wrote)",
    "handoffs": "Handoffs (a person was asked for)",
    "response_avg_s": "Average response time (seconds)",
    "response_p90_s": "90% of replies within (seconds)",
    "tokens_in": "LLM tokens in",
    "tokens_out": "LLM tokens out",
    "images": "Photos shown to the model",
    "image_tokens": "LLM tokens of those photos",
    "transcription_seconds": "Voice notes transcribed (seconds)",
    "cost_usd": "Estimated LLM cost (USD, transcription included)",
}


def window_start(days: int, today: date | None = None) -> datetime:
    """UTC midnight of the first of the `days` days that end today."""
    first = (today or datetime.now(timezone.utc).date()) - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=timezone.utc)


def _add(total, value):
    """A sum where an unknown part (None: a model without a price) makes the whole unknown."""
    return None if total is None or value is None else round(total + value, 6)


def build(days: list[date], *, customer: list[dict], decisions: list[dict], replies: list[dict],
          llm: list[dict], prices: dict, transcriptions: list[dict] = ()) -> dict:
    """The report from the queries' rows: {"days": [iso], "daily": {key:
    [value per day]}, "providers": {provider: {"tokens": [...], "cost_usd":
    [...]}}, "unpriced": [models without a price]}. A day without rows is
    zeros (response times: None, nothing to time)."""
    index = {day: i for i, day in enumerate(days)}
    daily = {key: [0] * len(days) for key in DAILY}
    for key in ("response_avg_s", "response_p90_s"):
        daily[key] = [None] * len(days)
    daily["cost_usd"] = [0.0] * len(days)
    for row in customer:
        if row["day"] in index:
            daily["messages_in"][index[row["day"]]] = int(row["n"])
    for row in decisions:
        if row["day"] in index:
            key = "takeovers" if row["decision"] == "human_takeover" else "handoffs"
            daily[key][index[row["day"]]] += int(row["n"])
    for row in replies:
        if row["day"] in index:
            i = index[row["day"]]
            daily["replies"][i] = int(row["replies"])
            # the customer asked for a person (above), or the assistant handed the chat over itself
            daily["handoffs"][i] += int(row["handoffs"])
            for key in ("response_avg_s", "response_p90_s"):
                daily[key][i] = None if row[key] is None else round(float(row[key]), 1)
    providers: dict[str, dict] = {}
    unpriced = set()
    for row in llm:
        if row["day"] not in index:
            continue
        i = index[row["day"]]
        tokens_in, tokens_out = int(row["tokens_in"]), int(row["tokens_out"])
        cost = estimate_cost(row["model"], tokens_in, tokens_out, prices)
        if cost is None:
            unpriced.add(row["model"] or "(no model)")
        name = row["provider"] or "(unknown)"
        series = providers.setdefault(name, {"tokens": [0] * len(days), "cost_usd": [0.0] * len(days)})
        series["tokens"][i] += tokens_in + tokens_out
        series["cost_usd"][i] = _add(series["cost_usd"][i], cost)
        daily["tokens_in"][i] += tokens_in
        daily["tokens_out"][i] += tokens_out
        daily["images"][i] += int(row.get("images") or 0)
        daily["image_tokens"][i] += int(row.get("image_tokens") or 0)
        daily["cost_usd"][i] = _add(daily["cost_usd"][i], cost)
    # voice notes HybridFlow paid to transcribe, priced per minute, under the provider that transcribed them
    for row in transcriptions:
        if row["day"] not in index:
            continue
        i = index[row["day"]]
        seconds = float(row["seconds"] or 0)
        cost = transcription_cost(row["model"], seconds)
        if cost is None:
            unpriced.add(row["model"] or "(no model)")
        name = row["provider"] or "(unknown)"
        series = providers.setdefault(name, {"tokens": [0] * len(days), "cost_usd": [0.0] * len(days)})
        series["cost_usd"][i] = _add(series["cost_usd"][i], cost)
        daily["transcription_seconds"][i] += round(seconds)
        daily["cost_usd"][i] = _add(daily["cost_usd"][i], cost)
    return {"days": [d.isoformat() for d in days], "daily": daily, "providers": providers,
            "unpriced": sorted(unpriced)}


def tenant_usage(cur, tenant_id, *, days: int, prices: dict, today: date | None = None) -> dict:
    """The report of the tenant's last `days` days (today included)."""
    since = window_start(days, today)
    day_list = [since.date() + timedelta(days=n) for n in range(days)]
    return build(
        day_list,
        customer=messages.customer_messages_per_day(cur, tenant_id, since=since),
        decisions=events.decisions_per_day(cur, tenant_id, since=since, decisions=("human_takeover", "handoff")),
        replies=reply_tokens.replies_per_day(cur, tenant_id, since=since),
        llm=reply_tokens.usage_rows(cur, since=since, tenant_id=str(tenant_id)),
        prices=prices,
        transcriptions=messages.transcription_usage_rows(cur, since=since, tenant_id=str(tenant_id)),
    )


def csv_table(report: dict) -> list[list]:
    """The report as rows for a spreadsheet: a header, then one row a day
    (the daily numbers, then each provider's tokens and cost). An unknown
    cost is an empty cell."""
    names = sorted(report["providers"])
    header = ["day", *DAILY]
    for name in names:
        header += [f"tokens_{name}", f"cost_usd_{name}"]
    rows = [header]
    for i, day in enumerate(report["days"]):
        row = [day, *(report["daily"][key][i] for key in DAILY)]
        for name in names:
            row += [report["providers"][name]["tokens"][i], report["providers"][name]["cost_usd"][i]]
        rows.append(["" if value is None else value for value in row])
    return rows
