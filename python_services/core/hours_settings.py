"""The rules of the business hours settings (core/settings.py uses them):
each a check that returns the clean value or raises the 400 that names the
field, down to the range (`settings.business_hours.mon[1]`)."""
from __future__ import annotations

import re
from datetime import date, timedelta, timezone

from ..common.errors import bad_request
from .hours import DAYS, clock_minutes, parse_until

MAX_RANGES_PER_DAY = 6
MAX_HOLIDAYS = 400
# closed_until's years: a vacation that never ends is a far-but-reachable date
# (the rules look HORIZON_DAYS past it), and one before 1970 is a mistake
FIRST_YEAR, LAST_YEAR = 1970, 9000
_CLOCK = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")


def check_business_hours(key, value):
    """{"mon": [["09:00", "12:00"], ["14:00", "18:00"]], ...}: each range two
    "HH:MM" times, "24:00" only as an end, the end before the start meaning
    past midnight; ranges of a day never overlap. None: always open."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request(f"settings.{key} must be an object of days ({', '.join(DAYS)}) to lists of "
                          "[\"HH:MM\", \"HH:MM\"] ranges, e.g. {\"mon\": [[\"09:00\", \"18:00\"]]}", f"settings.{key}")
    checked = {}
    for day, ranges in value.items():
        field = f"settings.{key}.{day}"
        if day not in DAYS:
            raise bad_request(f"{field} is not a day: use {', '.join(DAYS)}", field)
        if not isinstance(ranges, list) or len(ranges) > MAX_RANGES_PER_DAY:
            raise bad_request(f"{field} must be a list of at most {MAX_RANGES_PER_DAY} ranges "
                              "[\"HH:MM\", \"HH:MM\"] (an empty list: closed that day)", field)
        spans = []
        for n, pair in enumerate(ranges):
            spans.append(_check_range(f"{field}[{n}]", pair, n))
        for (start, end, n), (later_start, _, m) in zip(sorted(spans), sorted(spans)[1:]):
            if later_start < end:
                raise bad_request(f"{field}[{m}] overlaps {day}[{n}]: ranges of a day must not overlap",
                                  f"{field}[{m}]")
        checked[day] = [list(pair) for pair in ranges]
    return checked


def _check_range(field: str, pair, n: int) -> tuple[int, int, int]:
    example = "[\"HH:MM\", \"HH:MM\"] from 00:00 to 24:00, e.g. [\"14:00\", \"18:00\"]"
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) and _CLOCK.fullmatch(t)
                                                                for t in pair)):
        raise bad_request(f"{field} must be {example}", field)
    start, end = clock_minutes(pair[0]), clock_minutes(pair[1])
    if start == 1440:
        raise bad_request(f"{field} must not start at 24:00 (use 00:00 of the next day)", field)
    if start == end:
        raise bad_request(f"{field} starts and ends at {pair[0]}: give a range (an end before the start "
                          "runs past midnight)", field)
    return start, end if end > start else end + 1440, n


def check_holidays(key, value):
    if not isinstance(value, list) or len(value) > MAX_HOLIDAYS:
        raise bad_request(f"settings.{key} must be a list of at most {MAX_HOLIDAYS} dates \"YYYY-MM-DD\"",
                          f"settings.{key}")
    for n, day in enumerate(value):
        try:
            ok = isinstance(day, str) and len(day) == 10 and date.fromisoformat(day)
        except ValueError:
            ok = False
        if not ok:
            raise bad_request(f"settings.{key}[{n}] must be a date \"YYYY-MM-DD\", e.g. \"2026-12-25\"",
                              f"settings.{key}[{n}]")
    return sorted(set(value))


def check_closed_until(key, value):
    """A date ("2026-01-05": closed until that day begins) or a local date and
    time ("2026-01-05T09:00"), in the tenant's timezone unless it has an offset."""
    if value is None:
        return None
    message = (f"settings.{key} must be a date \"YYYY-MM-DD\" or a date and time \"YYYY-MM-DDTHH:MM\" "
               "(the tenant's timezone), or null to open as usual")
    if not isinstance(value, str) or len(value) > 40:
        raise bad_request(message, f"settings.{key}")
    try:
        # read in the zones furthest from UTC, so that whatever the tenant's
        # timezone (now or after a change) the date is an instant the hours
        # rules can compute with; a year out of range would otherwise make
        # every status check overflow
        ends = [parse_until(value, timezone(timedelta(hours=h))) for h in (-14, 14)]
    except (ValueError, OverflowError):
        raise bad_request(message, f"settings.{key}") from None
    if not all(FIRST_YEAR <= end.year <= LAST_YEAR for end in ends):
        raise bad_request(f"settings.{key} must be a date between {FIRST_YEAR} and {LAST_YEAR} "
                          "(null to open as usual)", f"settings.{key}")
    return value


check_business_hours.schema = {
    "type": ["object", "null"], "description": "weekly opening hours in the tenant's timezone: "
    "{\"mon\": [[\"09:00\", \"12:00\"], [\"14:00\", \"18:00\"]], ...}; a day not listed is closed; null: always open",
    "additionalProperties": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}}
check_holidays.schema = {"type": "array", "items": {"type": "string", "format": "date"}}
check_closed_until.schema = {"type": ["string", "null"], "description": "closed (a vacation) until this local date "
                             "or date and time; null: open as usual"}
