"""The usage page (/console/t/<tenant_id>/usage): the business's last 7,
30 or 90 days — messages in, replies, takeovers, handoffs, response time,
AI tokens and estimated cost per provider — as charts (Chart.js, vendored:
the numbers are in the page, nothing comes from elsewhere) and as a table,
with the same numbers as CSV (/usage.csv). core/usage_report.py counts;
this shapes."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, current_app, g, render_template, request, url_for

from ..common import db
from ..common.errors import bad_request
from ..common.params import ascii_whole
from ..core.prices import load_prices
from ..core.usage_report import DAILY, WINDOWS, csv_table, tenant_usage
from . import guard

bp = Blueprint("usage", __name__, url_prefix="/console/t/<tenant_id>")

DEFAULT_DAYS = 30
# what the charts show of the daily numbers
MESSAGE_SERIES = ("messages_in", "replies", "takeovers", "handoffs")
RESPONSE_SERIES = ("response_avg_s", "response_p90_s")


def prices() -> dict:
    """The price table the llm service counts with (LLM_PRICES over the built-in one), read once."""
    if "llm_prices" not in current_app.extensions:
        current_app.extensions["llm_prices"] = load_prices(current_app.config["HF"].llm_prices)
    return current_app.extensions["llm_prices"]


def window() -> int:
    raw = request.args.get("days", str(DEFAULT_DAYS))
    days = ascii_whole(raw)
    if days not in WINDOWS:
        raise bad_request(f"days must be one of {', '.join(map(str, WINDOWS))}", "days")
    return days


def report(tenant_id, days: int) -> dict:
    with db.transaction() as cur:
        return tenant_usage(cur, tenant_id, days=days, prices=prices())


def chart_data(report: dict) -> dict:
    """What static/usage.js draws: per chart its type and its series."""
    daily, providers = report["daily"], report["providers"]

    def series(keys):
        return [{"label": DAILY[k], "values": daily[k]} for k in keys]

    return {"days": report["days"], "charts": {
        "messages": {"type": "bar", "series": series(MESSAGE_SERIES)},
        "response": {"type": "line", "series": series(RESPONSE_SERIES)},
        "tokens": {"type": "bar", "stacked": True,
                   "series": [{"label": name, "values": p["tokens"]} for name, p in sorted(providers.items())]},
        "cost": {"type": "bar", "stacked": True,
                 "series": [{"label": name, "values": p["cost_usd"]} for name, p in sorted(providers.items())]},
    }}


def totals(report: dict) -> dict:
    """The period's sums, for the figures above the charts."""
    daily = report["daily"]
    shown = {key: f"{sum(daily[key]):,}" for key in MESSAGE_SERIES}
    # the period's average: each day's average weighed by its replies
    timed = [(avg, n) for avg, n in zip(daily["response_avg_s"], daily["replies"]) if avg is not None and n]
    replies = sum(n for _, n in timed)
    shown["response_avg_s"] = f"{sum(avg * n for avg, n in timed) / replies:.1f}" if replies else "–"
    shown.update({key: f"{sum(daily[key]):,}" for key in ("tokens_in", "tokens_out", "images",
                                                          "transcription_seconds")})
    costs = daily["cost_usd"]
    shown["cost_usd"] = "unknown" if any(c is None for c in costs) else f"{sum(costs):.2f}"
    return shown


@bp.get("/usage")
@guard.tenant_page("read")
def show(tenant_id):
    days = window()
    data = report(tenant_id, days)
    return render_template(
        "usage.html", report=data, days=days, windows=WINDOWS, labels=DAILY, totals=totals(data),
        chart_data=chart_data(data), table=csv_table(data),
        csv_url=url_for("usage.download", tenant_id=tenant_id, days=days),
        chart_js_url=url_for("console_assets.vendor", name="chart.umd.min.js"),
    )


@bp.get("/usage.csv")
@guard.tenant_page("read")
def download(tenant_id):
    days = window()
    out = io.StringIO()
    csv.writer(out).writerows(csv_table(report(tenant_id, days)))
    name = f"usage-{g.tenant['instance_name']}-{days}d.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
