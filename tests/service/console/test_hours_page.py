"""The hours page: a weekly grid with split shifts, holidays, a vacation,
what happens while closed, limits and notifications; only the keys that
changed are stored, one wrong input and nothing is, each message beside its
input; owners save, others read (a forged POST is 403); the line at the top
says whether the shop is open now and when it opens. The inbox shows the
chats waiting for the shop to open."""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from python_services.core import events, reply_tokens, tenants
from python_services.core.hours import zone_of
from tests.service.console.conftest import make_chat


def url(tenant, page="hours"):
    return f"/console/t/{tenant['id']}/{page}"


class _Form(HTMLParser):
    """What a browser posts for the page's form: text, time and hidden
    inputs, ticked boxes and radios, the selected option, textareas."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select = self._textarea = None
        self._first_option = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
            else:
                self.fields.append((name, a.get("value") or ""))
        elif tag == "select":
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value")
            if "selected" in a:
                self.fields.append((self._select, a.get("value")))
                self._select = None
        elif tag == "textarea":
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            self.fields.append(tuple(self._textarea))
            self._textarea = None
        elif tag == "select" and self._select:
            self.fields.append((self._select, self._first_option))
            self._select = None


def form_of(html: str) -> dict:
    """The hours form as shown: name -> value (a list for repeated names)."""
    form_html = html.split('data-testid="hours-form"', 1)[1].split("</form>", 1)[0]
    parser = _Form()
    parser.feed(form_html)
    form: dict = {}
    for name, value in parser.fields:
        if name in form:
            form[name] = (form[name] if isinstance(form[name], list) else [form[name]]) + [value]
        else:
            form[name] = value
    if isinstance(form.get("notify_events"), str):
        form["notify_events"] = [form["notify_events"]]
    return form


def error_of(html: str, key: str) -> str | None:
    found = re.search(rf'data-testid="error-{re.escape(key)}"[^>]*>([^<]*)<', html)
    return found.group(1) if found else None


@pytest.fixture
def stored(app, tx):
    def read(tenant) -> dict:
        with app.app_context():
            return tx(tenants.by_id, tenant["id"])["settings"]

    return read


def with_hours(form: dict, **ranges) -> dict:
    """The form with "open all week" unticked and the given rows filled in:
    with_hours(form, mon_0=("09:00", "12:00"), sat_0=("22:00", "02:00", "on"))."""
    form = {k: v for k, v in form.items() if k != "business_hours.always"}
    for row, times in ranges.items():
        day, n = row.split("_")
        form[f"business_hours.{day}.{n}.start"], form[f"business_hours.{day}.{n}.end"] = times[:2]
        if len(times) > 2:
            form[f"business_hours.{day}.{n}.overnight"] = times[2]
    return form


def test_the_grid_saves_split_shifts_and_only_the_settings_that_changed(as_role, tx, tenant, stored):
    client = as_role("owner")
    html = client.get(url(tenant)).get_data(as_text=True)
    assert 'data-testid="hours-always"' in html and 'type="time"' in html
    form = with_hours(form_of(html), mon_0=("09:00", "12:00"), mon_1=("14:00", "18:00"), sat_0=("09:00", "13:00"))
    resp = client.post(url(tenant), data=form)
    assert resp.status_code == 200, error_of(resp.get_data(as_text=True), "business_hours")
    assert "Saved: Opening hours." in resp.get_data(as_text=True)
    assert stored(tenant) == {"business_hours": {"mon": [["09:00", "12:00"], ["14:00", "18:00"]],
                                                 "sat": [["09:00", "13:00"]]}}
    change = tx(events.timeline, tenant["id"], None, 5)[-1]
    assert change["reason"] == "changed by user owner@acme.example: settings.business_hours"


def test_saving_the_page_as_shown_changes_nothing(as_role, tx, tenant, stored):
    # midnight written two ways, a vacation given as a date only, a shift past midnight
    settings = {"timezone": "America/Sao_Paulo", "closed_until": "2031-01-05", "holidays": ["2031-12-25"],
                "business_hours": {"fri": [["18:00", "24:00"]], "sat": [["22:00", "02:00"]]}}
    tx(lambda cur: cur.execute("UPDATE tenants SET settings = %s WHERE id = %s",
                               (json.dumps(settings), tenant["id"])))
    client = as_role("owner")
    html = client.get(url(tenant)).get_data(as_text=True)
    assert 'value="2031-01-05T00:00"' in html
    assert re.search(r'name="business_hours\.sat\.0\.overnight"[^>]*checked', html)
    resp = client.post(url(tenant), data=form_of(html))
    assert resp.status_code == 200
    assert "Nothing changed." in resp.get_data(as_text=True)
    assert stored(tenant) == settings


def test_a_shift_past_midnight_is_saved_when_it_says_so(as_role, tenant, stored):
    client = as_role("owner")
    form = with_hours(form_of(client.get(url(tenant)).get_data(as_text=True)), fri_0=("22:00", "02:00", "on"),
                      sat_0=("18:00", "00:00"))
    assert client.post(url(tenant), data=form).status_code == 200
    assert stored(tenant)["business_hours"] == {"fri": [["22:00", "02:00"]], "sat": [["18:00", "24:00"]]}


@pytest.mark.parametrize("rows, key, words", [
    ({"mon_0": ("12:00", "09:00")}, "business_hours.mon.0", "closes at 09:00, not after it opens at 12:00"),
    ({"tue_1": ("25:00", "18:00")}, "business_hours.tue.1", "25:00 is not a time of day"),
    ({"wed_0": ("09:00", "")}, "business_hours.wed.0", "give both the opening and the closing time"),
    ({"thu_0": ("09:00", "12:00"), "thu_1": ("11:00", "13:00")}, "business_hours.thu.1", "overlaps hours 1"),
])
def test_a_bad_range_is_refused_beside_it_and_nothing_is_saved(as_role, tenant, stored, rows, key, words):
    client = as_role("owner")
    form = with_hours(form_of(client.get(url(tenant)).get_data(as_text=True)), **rows)
    form["away_message"] = "Closed! Back {opens}."  # a good change beside it is not saved either
    resp = client.post(url(tenant), data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert words in (error_of(html, key) or ""), error_of(html, key)
    assert 'data-testid="hours-errors"' in html
    assert stored(tenant) == {}
    assert "Closed! Back {opens}." in html  # what was typed stays, to correct


@pytest.mark.parametrize("field, value, words", [
    ("timezone", "Mars/Olympus", "unknown time zone"),
    ("closed_until", "next week", "must be a date"),
    ("holidays", "2026-02-30", "must be a date"),
    ("daily_llm_budget_usd", "lots", "must be a number"),
    ("max_replies_per_chat_per_hour", "0", "between 1 and 10000"),
])
def test_a_bad_setting_is_named_beside_its_input(as_role, tenant, stored, field, value, words):
    client = as_role("owner")
    form = {**form_of(client.get(url(tenant)).get_data(as_text=True)), field: value}
    resp = client.post(url(tenant), data=form)
    assert resp.status_code == 400
    assert words in (error_of(resp.get_data(as_text=True), field) or "")
    assert stored(tenant) == {}


def test_limits_and_the_closed_mode_are_stored_as_the_settings_they_are(as_role, tenant, stored):
    client = as_role("owner")
    form = {**form_of(client.get(url(tenant)).get_data(as_text=True)), "outside_hours": "away_message",
            "daily_llm_budget_usd": "2,50", "max_replies_per_chat_per_hour": "12", "closed_until": "2031-01-05T09:00"}
    assert client.post(url(tenant), data=form).status_code == 200
    assert stored(tenant) == {"outside_hours": "away_message", "daily_llm_budget_usd": 2.5,
                              "max_replies_per_chat_per_hour": 12, "closed_until": "2031-01-05T09:00"}
    # an empty budget is no budget: the key goes back to its default
    form = {**form_of(client.get(url(tenant)).get_data(as_text=True)), "daily_llm_budget_usd": ""}
    assert client.post(url(tenant), data=form).status_code == 200
    assert "daily_llm_budget_usd" not in stored(tenant)


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_others_read_the_hours_but_a_forged_post_is_403(as_role, tenant, stored, role):
    client = as_role(role)
    html = client.get(url(tenant)).get_data(as_text=True)
    assert 'data-testid="hours-save"' not in html and "<fieldset disabled" in html
    form = with_hours(form_of(html), mon_0=("09:00", "18:00"))
    assert client.post(url(tenant), data=form).status_code == 403
    assert stored(tenant) == {}


def test_another_tenants_hours_are_a_404(as_role, other_tenant, stored):
    client = as_role("owner")
    assert client.get(url(other_tenant)).status_code == 404
    assert client.post(url(other_tenant), data={"business_hours.always": "on"}).status_code == 404
    assert stored(other_tenant) == {}


def closed_today(zone_name="America/Sao_Paulo") -> tuple[dict, str]:
    """Settings that make the shop closed now (open around the clock every
    day, but today is a holiday), and when it opens: tomorrow at 00:00."""
    today = datetime.now(UTC).astimezone(zone_of(zone_name)).date()
    every_day = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    settings = {"timezone": zone_name, "business_hours": every_day, "holidays": [today.isoformat()],
                "outside_hours": "away_message"}
    return settings, f"{(today + timedelta(days=1)).strftime('%a')} 00:00"


def set_settings(tx, tenant, settings):
    tx(lambda cur: cur.execute("UPDATE tenants SET settings = %s WHERE id = %s",
                               (json.dumps(settings), tenant["id"])))


def test_the_top_line_says_closed_and_when_it_opens_in_the_tenants_clock(as_role, tx, tenant):
    settings, opens = closed_today()
    set_settings(tx, tenant, settings)
    html = as_role("viewer").get(url(tenant)).get_data(as_text=True)
    line = re.search(r'data-testid="hours-now"[^>]*data-open="(\w+)"><strong>([^<]*)<', html)
    assert line.groups() == ("false", f"closed — opens {opens}, São Paulo time")


def test_the_top_line_says_open_around_the_clock_without_hours(as_role, tenant):
    html = as_role("viewer").get(url(tenant)).get_data(as_text=True)
    assert re.search(r'data-testid="hours-now"[^>]*data-open="true"><strong>open — no opening hours set', html)


def decided(cur, tenant_id, chat, decision, *, fixed_text=None, author="customer"):
    """An event in the chat now (after make_chat's), with the reply token it made when `fixed_text` is given
    or the decision is the outside_hours reply mode's (a token without fixed text)."""
    token = None
    if fixed_text is not None or decision == "outside_hours_reply":
        token = reply_tokens.insert(cur, uuid.uuid4(), tenant_id=tenant_id, session_id=chat["id"],
                                    chat_id=chat["chat_id"], deadline_seconds=60, fixed_text=fixed_text)["id"]
    cur.execute(
        "INSERT INTO events (tenant_id, event_type, chat_id, author, decision, reason, reply_token_id, received_at)"
        " VALUES (%s, 'messages.upsert', %s, %s, %s, 'closed', %s, clock_timestamp())",
        (tenant_id, chat["chat_id"], author, decision.removesuffix("_reply"), token))


def waiting_rows(html: str) -> dict[str, str | None]:
    """data-chat -> data-waiting of each row, with the row's data-state kept as the contract says."""
    rows = re.findall(r'data-testid="chat-row" data-chat="(\d+)" data-state="(active|paused|handoff|off)"'
                      r'( data-waiting="true")?', html)
    return {chat: ("true" if waiting else None) for chat, _, waiting in rows}


def test_the_inbox_shows_chats_waiting_for_the_shop_to_open(as_role, tx, tenant):
    settings, opens = closed_today()
    set_settings(tx, tenant, settings)
    t = tenant["id"]
    away = tx(make_chat, t, "5511900000001", "Away")
    silent = tx(make_chat, t, "5511900000002", "Silent")
    answered = tx(make_chat, t, "5511900000003", "Answered")
    tx(make_chat, t, "5511900000004", "Plain")
    tx(decided, t, away, "outside_hours", fixed_text="We're closed")
    tx(decided, t, away, "bot_echo", author="bot")  # the away message coming back changes nothing
    tx(decided, t, silent, "outside_hours")
    tx(decided, t, answered, "outside_hours_reply")  # the assistant answered: nobody waits
    client = as_role("viewer")
    html = client.get(url(tenant, "inbox")).get_data(as_text=True)
    assert waiting_rows(html) == {"5511900000001": "true", "5511900000002": "true", "5511900000003": None,
                                  "5511900000004": None}
    assert html.count(f"waiting for opening (opens {opens})") == 2
    assert '<option value="waiting"' in html
    filtered = client.get(url(tenant, "inbox") + "?state=waiting").get_data(as_text=True)
    assert waiting_rows(filtered) == {"5511900000001": "true", "5511900000002": "true"}
    polled = client.get(url(tenant, "inbox/rows") + "?state=waiting").get_data(as_text=True)
    assert waiting_rows(polled) == waiting_rows(filtered)


def test_nobody_waits_once_the_shop_is_open_or_someone_answered(as_role, tx, tenant):
    settings, _ = closed_today()
    set_settings(tx, tenant, settings)
    t = tenant["id"]
    taken = tx(make_chat, t, "5511900000005", "Taken")
    tx(decided, t, taken, "outside_hours")
    tx(decided, t, taken, "human_takeover", author="business")
    client = as_role("viewer")
    assert waiting_rows(client.get(url(tenant, "inbox")).get_data(as_text=True)) == {"5511900000005": None}
    waiting = tx(make_chat, t, "5511900000006", "Waiting")
    tx(decided, t, waiting, "outside_hours")
    assert waiting_rows(client.get(url(tenant, "inbox")).get_data(as_text=True))["5511900000006"] == "true"
    set_settings(tx, tenant, {**settings, "holidays": []})  # open now: around the clock
    html = client.get(url(tenant, "inbox")).get_data(as_text=True)
    assert "data-waiting" not in html
    assert waiting_rows(client.get(url(tenant, "inbox") + "?state=waiting").get_data(as_text=True)) == {}
