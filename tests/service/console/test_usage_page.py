"""The usage page: messages in, replies, takeovers, handoffs, response time
and AI tokens and cost per day and per provider, as charts drawn by the
vendored Chart.js from numbers in the page, and as CSV with a row a day;
the tenant's own numbers only."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from python_services.core import sessions
from python_services.core.prices import DEFAULT_PRICES
from python_services.core.usage_report import build, csv_table

TODAY = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
YESTERDAY = TODAY - timedelta(days=1)


def url(tenant, tail=""):
    return f"/console/t/{tenant['id']}/usage{tail}"


def busy_day(cur, tenant_id, at: datetime, *, customers: int, replies: int, provider="anthropic",
             model="claude-haiku-4-5", takeover=False, handoff=False):
    """A day of a chat: customer messages, replies sent (each 4 s after its message, 1000 tokens in,
    200 out), and a takeover or a handoff when asked."""
    chat_id = "5511987654321@s.whatsapp.net"
    session = sessions.lock(cur, tenant_id, chat_id, "Ana")
    for n in range(customers):
        cur.execute(
            "INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text, sent_at,"
            " created_at) VALUES (%s, %s, %s, %s, 'customer', 'conversation', 'hi', %s, %s)",
            (tenant_id, session["id"], chat_id, f"IN-{at:%j}-{n}-{tenant_id}", at, at))
    for n in range(replies):
        cur.execute(
            "INSERT INTO reply_tokens (tenant_id, session_id, chat_id, state, reason, deadline_at, created_at,"
            " finished_at, llm_provider, llm_model, llm_outcome, tokens_in, tokens_out)"
            " VALUES (%s, %s, %s, 'sent', 'sent', %s, %s, %s, %s, %s, 'text', 1000, 200)",
            (tenant_id, session["id"], chat_id, at, at, at + timedelta(seconds=4), provider, model))
    for decision, wanted in (("human_takeover", takeover), ("handoff", handoff)):
        if wanted:
            cur.execute("INSERT INTO events (tenant_id, event_type, chat_id, decision, reason, received_at)"
                        " VALUES (%s, 'messages.upsert', %s, %s, 'test', %s)", (tenant_id, chat_id, decision, at))


@pytest.fixture
def usage(tx, tenant, other_tenant):
    tx(busy_day, tenant["id"], YESTERDAY, customers=3, replies=2, takeover=True)
    tx(busy_day, tenant["id"], TODAY, customers=5, replies=4, provider="openai", model="gpt-4o-mini", handoff=True)
    tx(busy_day, other_tenant["id"], TODAY, customers=50, replies=40)


def csv_rows(resp) -> list[dict]:
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def test_the_csv_has_a_row_a_day_with_the_days_numbers(as_role, tenant, people, usage):
    resp = as_role("viewer").get(url(tenant, ".csv"), query_string={"days": 7})
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = csv_rows(resp)
    assert [r["day"] for r in rows] == [(TODAY.date() - timedelta(days=6 - n)).isoformat() for n in range(7)]
    yesterday, today = rows[-2], rows[-1]
    assert (yesterday["messages_in"], yesterday["replies"], yesterday["takeovers"], yesterday["handoffs"]) == \
        ("3", "2", "1", "0")
    assert (today["messages_in"], today["replies"], today["handoffs"]) == ("5", "4", "1")
    assert today["response_avg_s"] == "4.0" and today["tokens_in"] == "4000" and today["tokens_out"] == "800"
    assert today["tokens_openai"] == "4800" and today["tokens_anthropic"] == "0"
    assert float(yesterday["cost_usd_anthropic"]) == pytest.approx(2 * (1000 * 1.0 + 200 * 5.0) / 1e6)
    assert rows[0]["messages_in"] == "0" and rows[0]["response_avg_s"] == ""  # a quiet day: nothing to time


def test_the_page_draws_its_charts_from_numbers_in_the_page_with_the_vendored_library(as_role, tenant, people,
                                                                                     usage):
    html = as_role("viewer").get(url(tenant)).get_data(as_text=True)
    assert 'data-testid="usage-chart"' in html
    data = json.loads(re.search(r'<script type="application/json" id="usage-data">(.*?)</script>', html, re.S)
                      .group(1))
    assert len(data["days"]) == 30
    messages = {s["label"]: s["values"][-1] for s in data["charts"]["messages"]["series"]}
    assert messages["Messages from customers"] == 5
    assert [s["label"] for s in data["charts"]["tokens"]["series"]] == ["anthropic", "openai"]
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert "/console/vendor/chart.umd.min.js" in scripts
    assert all(not s.startswith(("http:", "https:", "//")) for s in scripts)  # no CDN: works on a closed network


def test_the_vendored_chart_library_is_served_by_the_console(app):
    resp = app.test_client().get("/console/vendor/chart.umd.min.js")
    assert resp.status_code == 200
    assert b"Chart.js v4.6.1" in resp.get_data()[:200]


def test_a_period_that_is_not_offered_is_a_400_naming_days(as_role, tenant, people):
    resp = as_role("viewer").get(url(tenant, ".csv"), query_string={"days": "5000"})
    assert resp.status_code == 400
    assert "days must be one of 7, 30, 90" in resp.get_data(as_text=True)


def test_another_tenants_usage_is_a_404(as_role, other_tenant, people, usage):
    client = as_role("owner")
    assert client.get(url(other_tenant)).status_code == 404
    assert client.get(url(other_tenant, ".csv")).status_code == 404


def test_a_model_without_a_price_makes_its_days_cost_unknown_not_zero():
    day = date(2026, 3, 2)
    report = build([day], customer=[], decisions=[], replies=[],
                   llm=[{"day": day, "provider": "openai_compatible", "model": "llama3", "tokens_in": 10,
                         "tokens_out": 5}], prices=DEFAULT_PRICES)
    assert report["unpriced"] == ["llama3"]
    assert report["daily"]["cost_usd"] == [None]
    header, row = csv_table(report)
    assert row[header.index("cost_usd")] == "" and row[header.index("tokens_openai_compatible")] == 15


def test_photos_and_transcribed_voice_notes_are_counted_and_their_minutes_priced():
    day = date(2026, 3, 2)
    report = build([day], customer=[], decisions=[], replies=[],
                   llm=[{"day": day, "provider": "openai", "model": "gpt-4o-mini", "tokens_in": 0, "tokens_out": 0,
                         "images": 2, "image_tokens": 1700}],
                   transcriptions=[{"day": day, "provider": "openai", "model": "whisper-1", "seconds": 120}],
                   prices=DEFAULT_PRICES)
    daily = report["daily"]
    assert (daily["images"], daily["image_tokens"], daily["transcription_seconds"]) == ([2], [1700], [120])
    # two minutes of whisper-1 at $0.006 a minute
    assert daily["cost_usd"] == [0.012] and report["providers"]["openai"]["cost_usd"] == [0.012]
    header, row = csv_table(report)
    assert row[header.index("transcription_seconds")] == 120 and row[header.index("images")] == 2


@pytest.mark.parametrize("days", ["²", "x", "8"])
def test_a_window_of_days_not_offered_is_a_400_naming_days(as_role, tenant, people, days):
    resp = as_role("viewer").get(f"/console/t/{tenant['id']}/usage", query_string={"days": days})
    assert resp.status_code == 400
    assert "days must be one of" in resp.get_data(as_text=True)
