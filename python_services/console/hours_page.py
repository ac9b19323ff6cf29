"""The hours page (/console/t/<tenant_id>/hours): when the shop is open (a
weekly grid, split shifts, holidays, a vacation), what the assistant does
while it is closed, its limits and who on the team is told what. Everyone
reads it; owners save it. Above it, whether the shop is open now and when
that changes (core/hours.py).

Saving goes the settings page's way (settings_form.read_form over this
page's fields, core/tenant_changes.py's merge and timeline row): only the
keys that changed are stored, one wrong input and nothing is saved, each
message next to its input. The grid is this page's own reading: a range
whose end is before its start is refused unless "until the next day" is
ticked (the rules would take it for hours past midnight, which a slip of
the finger must not become)."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import available_timezones

from flask import Blueprint, g, render_template, request

from ..common import db
from ..common.errors import ApiError
from ..core import hours, tenants
from ..core.hours_settings import MAX_RANGES_PER_DAY
from ..core.settings import effective_settings, validate_settings
from ..core.tenant_changes import change_tenant
from . import guard
from .settings_fields import DAY_NAMES, field_by_key
from .settings_form import Invalid, display_value, error_key, in_words, posted_values, read_form

bp = Blueprint("hours_page", __name__, url_prefix="/console/t/<tenant_id>")

GRID = "business_hours"
# rows of the grid a day; a day given more ranges through the API shows them all
ROWS_SHOWN = 3
# the page's other settings, in its order (labels, help and rules: settings_fields.py, core/settings.py)
OTHER_KEYS = ("timezone", "holidays", "closed_until", "outside_hours", "away_message",
              "max_replies_per_chat_per_hour", "daily_llm_budget_usd", "over_budget",
              "notify_owner_phone", "notify_email", "notify_events", "notify_text")
# what each outside_hours mode means, for someone who is not a developer
OUTSIDE_HOURS_WORDS = {
    "reply": "The assistant answers as usual, and tells the customer you are closed and when you open.",
    "away_message": "The away message below goes out once to each customer who writes while you are closed; "
                    "then the assistant stays quiet until you open.",
    "silent": "Nobody answers until you open; the messages wait for you in the inbox.",
}
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::00(?:\.0+)?)?")
_ROW_OF_RULE = re.compile(r"^settings\.business_hours\.([a-z]+)\[(\d+)\]$")


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def zone_choices(current: str) -> list[str]:
    """Every IANA zone, the tenant's first (a select's options)."""
    return [current, *(name for name in _zone_names() if name != current)]


# ---------------------------------------------------------------- the grid


def _clock(text: str) -> int:
    """Minutes from midnight of a time input's value ("09:30", "09:30:00")."""
    found = _TIME.fullmatch(text)
    if not found or int(found[1]) > 23 or int(found[2]) > 59:
        raise Invalid(f"{text} is not a time of day (00:00 to 23:59)")
    return int(found[1]) * 60 + int(found[2])


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def read_range(start: str, end: str, overnight: bool) -> list[str]:
    """One row of the grid as the setting's ["HH:MM", "HH:MM"]; closing at
    00:00 is midnight ("24:00"), past midnight only when the row says so."""
    if not start or not end:
        raise Invalid("give both the opening and the closing time (or leave both empty)")
    first, last = _clock(start), _clock(end)
    if last == 0:
        return [_hhmm(first), "24:00"]
    if last <= first and not overnight:
        raise Invalid(f"closes at {end}, not after it opens at {start}: tick \"until the next day\" "
                      "for hours past midnight")
    return [_hhmm(first), _hhmm(last)]


def read_grid(form) -> tuple[dict | None, dict, dict]:
    """(the week, or None for "open all week as usual"; errors by input;
    the grid row of each (day, position in the day's list))."""
    if form.get(f"{GRID}.always"):
        return None, {}, {}
    week, errors, rows = {}, {}, {}
    for day in hours.DAYS:
        for row in range(MAX_RANGES_PER_DAY):
            name = f"{GRID}.{day}.{row}"
            start, end = (form.get(f"{name}.{part}", "").strip() for part in ("start", "end"))
            if not start and not end:
                continue
            try:
                pair = read_range(start, end, bool(form.get(f"{name}.overnight")))
            except Invalid as err:
                errors[name] = f"{DAY_NAMES[day]}, hours {row + 1}: {err}"
                continue
            rows[(day, len(week.get(day, [])))] = row
            week.setdefault(day, []).append(pair)
    if not week and not errors:
        errors[GRID] = "Give the hours of at least one day, or tick \"Open all week as usual\"."
    return week, errors, rows


def grid_error(err: ApiError, rows: dict) -> tuple[str, str]:
    """The rules' message about the week (an overlap, a range that starts
    and ends at once) put on its row: (input, message)."""
    found = _ROW_OF_RULE.match(err.field or "")
    if not found:
        return GRID, in_words(err.message, field_by_key()[GRID])
    day, row = found[1], rows.get((found[1], int(found[2])), int(found[2]))
    rest = err.message.removeprefix(err.field).lstrip(" :")
    rest = re.sub(rf"\b{day}\[(\d+)\]", lambda m: f"hours {rows.get((day, int(m[1])), int(m[1])) + 1}", rest)
    return f"{GRID}.{day}.{row}", f"{DAY_NAMES[day]}, hours {row + 1}: {rest}"


def same_week(a, b) -> bool:
    """Do two business_hours values open at the same times (18:00-00:00 and
    18:00-24:00 alike)? Then nothing changed."""
    return hours.Hours.from_settings({GRID: a}).week == hours.Hours.from_settings({GRID: b}).week


def grid_of_week(week) -> dict:
    """The grid's inputs for a business_hours value."""
    days = {}
    for day in hours.DAYS:
        shown = []
        for start, end in (week or {}).get(day) or []:
            closing = "00:00" if end == "24:00" else end
            shown.append({"start": start, "end": closing,
                          "overnight": closing != "00:00" and hours.clock_minutes(end) <= hours.clock_minutes(start)})
        days[day] = shown + [{"start": "", "end": "", "overnight": False}] * (ROWS_SHOWN - len(shown))
    return {"always": week is None, "days": days}


def grid_of_form(form) -> dict:
    """The grid as the person left it (shown again beside the errors)."""
    days = {}
    for day in hours.DAYS:
        shown = [{"start": form.get(f"{GRID}.{day}.{row}.start", ""), "end": form.get(f"{GRID}.{day}.{row}.end", ""),
                  "overnight": bool(form.get(f"{GRID}.{day}.{row}.overnight"))} for row in range(MAX_RANGES_PER_DAY)]
        while len(shown) > ROWS_SHOWN and not (shown[-1]["start"] or shown[-1]["end"]):
            shown.pop()
        days[day] = shown
    return {"always": bool(form.get(f"{GRID}.always")), "days": days}


# ---------------------------------------------------------------- the page


def until_text(value: str | None, zone) -> str:
    """closed_until as a datetime-local input shows it: the tenant's clock."""
    if not value:
        return ""
    try:
        return hours.parse_until(value, zone).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    except ValueError:
        return value


def read_page(form, tenant: dict) -> tuple[dict, dict]:
    """(the settings that changed, errors by input)."""
    settings = effective_settings(tenant["settings"])
    fields = field_by_key()
    _, changes, errors = read_form(form, tenant, only=tuple(fields[key] for key in OTHER_KEYS))
    # the same moment written another way (2026-01-05 shown as 2026-01-05T00:00) is no change
    until, before = changes.get("closed_until"), settings["closed_until"]
    zone = hours.zone_of(settings["timezone"])
    if until and before and hours.parse_until(until, zone) == hours.parse_until(before, zone):
        del changes["closed_until"]
    week, grid_errors, rows = read_grid(form)
    errors.update(grid_errors)
    if not grid_errors:
        try:
            week = validate_settings({GRID: week})[GRID] if week is not None else None
        except ApiError as err:
            key, message = grid_error(err, rows)
            errors[key] = message
        else:
            if not same_week(week, settings[GRID]):
                changes[GRID] = week
    return changes, errors


def shop_now(settings: dict, now: datetime) -> dict:
    """The line at the top: open or closed now, until when, in whose clock."""
    shop = hours.status(now, settings)
    if shop.open and shop.closes_at is None:
        text = "open — no opening hours set: the assistant answers around the clock"
    else:
        text = shop.describe(now)
    local = now.astimezone(shop.zone).strftime("%a %H:%M")
    return {"open": shop.open, "text": text, "clock": f"It is {local} now, {hours.zone_label(shop.zone)}."}


def render(tenant: dict, *, form=None, errors=None, saved=None, status: int = 200):
    settings = effective_settings(tenant["settings"])
    fields = field_by_key()
    if form is None:
        values = {key: display_value(fields[key], settings[key]) for key in OTHER_KEYS}
        values["closed_until"] = until_text(settings["closed_until"], hours.zone_of(settings["timezone"]))
        grid = grid_of_week(settings[GRID])
    else:
        shown = posted_values(form, tenant)
        values = {key: shown[key] for key in OTHER_KEYS}
        grid = grid_of_form(form)
    return render_template(
        "hours.html", fields=fields, values=values, grid=grid, errors=errors or {}, saved=saved,
        day_names=DAY_NAMES, zones=zone_choices(values["timezone"] or settings["timezone"]),
        outside_words=OUTSIDE_HOURS_WORDS, now=shop_now(settings, datetime.now(UTC)), secret_hints={},
    ), status


@bp.get("/hours")
@guard.tenant_page("read")
def show(tenant_id):
    return render(g.tenant)


@bp.post("/hours")
@guard.tenant_page("settings.change")
def save(tenant_id):
    changes, errors = read_page(request.form, g.tenant)
    if errors:
        return render(g.tenant, form=request.form, errors=errors, status=400)
    try:
        with db.transaction() as cur:
            row = tenants.by_id(cur, tenant_id, lock=True)
            row = change_tenant(cur, row, {}, changes or None, actor=g.principal.label)
    except ApiError as err:
        # a rule over several settings speaks only now, beside its input when it is on this page
        key, fields = error_key(err.field), field_by_key()
        mine = key in (GRID, *OTHER_KEYS)
        return render(g.tenant, form=request.form, status=400,
                      errors={key: in_words(err.message, fields[key])} if mine else {"_form": err.message})
    g.tenant = row
    fields = field_by_key()
    return render(row, saved=[fields[key].label for key in changes])
