"""Business hours as pure rules: is the shop open at an instant, since when
has it been closed, and when does it open next. No clock and no database:
`now` is always given (an aware datetime), so tests drive every weekday,
holiday and daylight-saving change with a clock of their own.

A tenant's hours are its settings (core/settings.py): `timezone` (IANA),
`business_hours` ({"mon": [["09:00", "12:00"], ["14:00", "18:00"]], ...};
absent = always open; a day not listed is closed; "24:00" ends a day; a
range whose end is not after its start runs past midnight into the next
day and belongs to the day it starts on), `holidays` (["YYYY-MM-DD"]: the
ranges that start that day do not open) and `closed_until` (a vacation: an
ISO date or local date and time; closed before it whatever the week says).

Local times become instants through zoneinfo: a range keeps its local
clock times across a DST change (09:00-18:00 stays 09:00-18:00), a time the
clocks skip counts from the moment after the jump, and a time that happens
twice counts from its first occurrence.

The closed period's identity is its start (when the last open range ended),
so an away message goes out at most once per chat per closed period; during
a vacation, and after it until the shop next opens, the vacation's end
stands for it (its start is not recorded).
The rules of these settings are core/hours_settings.py."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# how far the rules look back for the last opening and ahead for the next one
HORIZON_DAYS = 400
# the identity of a closed period with no opening in sight (hours that never open)
NEVER_OPENED = datetime(1970, 1, 1, tzinfo=timezone.utc)
# a vacation whose end does not fit a datetime in the tenant's zone (only a
# setting saved before core/hours_settings.py bounded the year gets here)
FAR_FUTURE = datetime.max.replace(tzinfo=timezone.utc)
# names whose accents the IANA key leaves out, for "São Paulo time"
_PLACE_NAMES = {"Sao_Paulo": "São Paulo", "Bogota": "Bogotá", "Asuncion": "Asunción", "Cancun": "Cancún",
                "Merida": "Mérida", "Cuiaba": "Cuiabá", "Maceio": "Maceió", "Belem": "Belém",
                "Araguaina": "Araguaína", "Reykjavik": "Reykjavík"}


def zone_of(name: str | None) -> ZoneInfo:
    """The tenant's zone (its `timezone` setting is validated; UTC if unreadable)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def zone_label(zone: ZoneInfo) -> str:
    """How a person names the zone: "São Paulo time", "Lisbon time", "UTC"."""
    key = zone.key
    if "/" not in key or key.startswith("Etc/"):
        return key
    place = key.rsplit("/", 1)[1]
    return f"{_PLACE_NAMES.get(place, place.replace('_', ' '))} time"


def _instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """Local `day` + `minute` minutes (past 1440: the next day) as a UTC instant."""
    local = datetime.combine(day, time()) + timedelta(minutes=minute)
    return local.replace(tzinfo=zone).astimezone(timezone.utc)


def clock_minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def parse_until(value: str, zone: ZoneInfo) -> datetime:
    """closed_until: a date (closed until that day begins) or a date and time,
    local to the tenant unless it carries its own offset."""
    if len(value) == 10:
        return _instant(date.fromisoformat(value), 0, zone)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc)


def _vacation_end(value: str, zone: ZoneInfo) -> datetime | None:
    """parse_until for a stored setting, which must never take the business
    down: a year out of datetime's range in this zone is a vacation that never
    ends (far future) or one long over (far past)."""
    try:
        return parse_until(value, zone)
    except OverflowError:
        return FAR_FUTURE if value[:4] >= "1970" else None


@dataclass(frozen=True)
class Hours:
    """A tenant's hours, read from its (validated) settings."""
    zone: ZoneInfo
    # weekday (0 = Monday) -> ((start, end) in minutes from that day's midnight; end may pass 1440);
    # None: no business_hours set, always open
    week: dict | None
    holidays: frozenset = frozenset()
    closed_until: datetime | None = None

    @classmethod
    def from_settings(cls, settings: dict) -> "Hours":
        zone = zone_of(settings.get("timezone"))
        given = settings.get("business_hours")
        week = None
        if given is not None:
            week = {}
            for n, day in enumerate(DAYS):
                spans = []
                for start, end in given.get(day) or ():
                    first, last = clock_minutes(start), clock_minutes(end)
                    spans.append((first, last if last > first else last + 1440))
                week[n] = tuple(sorted(spans))
        holidays = frozenset(date.fromisoformat(d) for d in settings.get("holidays") or ())
        until = settings.get("closed_until")
        return cls(zone, week, holidays, _vacation_end(until, zone) if until else None)

    def ranges_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open ranges that start on local `day`, as UTC instants."""
        if self.week is None or day in self.holidays:
            return []
        return [(_instant(day, start, self.zone), _instant(day, end, self.zone))
                for start, end in self.week[day.weekday()]]

    def always_open(self) -> bool:
        return self.week is None


@dataclass(frozen=True)
class Status:
    """The shop at one instant."""
    open: bool
    zone: ZoneInfo
    # closed: the closed period's identity (when it began; a vacation's end during one)
    closed_since: datetime | None = None
    # closed: when it opens next (None: no opening within HORIZON_DAYS)
    opens_at: datetime | None = None
    # open: when this opening ends (None: always open)
    closes_at: datetime | None = None
    vacation: bool = False

    def describe(self, now: datetime) -> str:
        """For a person: "closed — opens Mon 09:00, São Paulo time"."""
        label = zone_label(self.zone)
        if self.open:
            return "open" if self.closes_at is None else f"open until {when(self.closes_at, now, self.zone)}, {label}"
        what = "closed for a break (closed_until)" if self.vacation else "closed"
        if self.opens_at is None:
            return f"{what} — no opening hours ahead"
        return f"{what} — opens {when(self.opens_at, now, self.zone)}, {label}"

    def opens_text(self, now: datetime) -> str:
        """"Mon 09:00 (São Paulo time)", for the away message and the prompt."""
        if self.opens_at is None:
            return "at a time not yet set"
        return f"{when(self.opens_at, now, self.zone)} ({zone_label(self.zone)})"


def when(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """A moment in the tenant's local time: "Mon 09:00" within the six days
    ahead (the weekday alone is then unambiguous), "Mon 05 Jan 09:00" beyond."""
    local = moment.astimezone(zone)
    if (local.date() - now.astimezone(zone).date()).days < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%a %d %b %H:%M")


def status(now: datetime, settings: dict) -> Status:
    """Open or closed at `now`, with the closed period's start and the next opening."""
    hours = Hours.from_settings(settings)
    zone = hours.zone
    vacation = hours.closed_until is not None and now < hours.closed_until
    if hours.always_open() and not vacation:
        return Status(True, zone)
    today = now.astimezone(zone).date()
    if not vacation:
        merged = _merged(hours, today - timedelta(days=1), 9)
        for start, end in merged:
            if start <= now < end:
                return Status(True, zone, closes_at=end)
    if vacation:
        since = hours.closed_until
    else:
        since = _last_closing(hours, now, today)
        if hours.closed_until is not None and since < hours.closed_until:
            # a vacation ended while the week keeps the shop closed: the same
            # closed period as during the vacation (whose identity was its
            # end), so the away message is not said a second time
            since = hours.closed_until
    if vacation and hours.always_open():
        # no weekly hours: the shop opens the moment the vacation ends
        opens = None if hours.closed_until == FAR_FUTURE else hours.closed_until
        return Status(False, zone, closed_since=since, opens_at=opens, vacation=True)
    # the search for the next opening starts where it can be: the vacation's last day, however far
    not_before = max(now, hours.closed_until) if vacation else now
    try:
        opens = _next_opening(hours, not_before, not_before.astimezone(zone).date())
    except OverflowError:
        # a vacation ending near the end of the calendar: nothing opens within reach
        opens = None
    return Status(False, zone, closed_since=since, opens_at=opens, vacation=vacation)


def _merged(hours: Hours, first: date, days: int) -> list[tuple[datetime, datetime]]:
    """The open ranges starting on `days` days from `first`, touching ones joined."""
    spans = sorted(r for n in range(days) for r in hours.ranges_on(first + timedelta(days=n)))
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _last_closing(hours: Hours, now: datetime, today: date) -> datetime:
    """When the last open range before `now` ended. A range starting the day
    before may end later than that day's own (it runs past midnight), so the
    first day with an ending is looked at together with the day before it."""
    for back in range(HORIZON_DAYS):
        day = today - timedelta(days=back)
        ends = [end for start, end in hours.ranges_on(day) + hours.ranges_on(day - timedelta(days=1)) if end <= now]
        if ends:
            return max(ends)
    return NEVER_OPENED


def _next_opening(hours: Hours, not_before: datetime, today: date) -> datetime | None:
    """The first moment from `not_before` on that falls in an open range."""
    for ahead in range(-1, HORIZON_DAYS):
        ranges = hours.ranges_on(today + timedelta(days=ahead))
        starts = [max(start, not_before) for start, end in sorted(ranges) if end > not_before]
        if starts:
            return min(starts)
    return None


def hour_start(now: datetime, zone_name: str | None) -> datetime:
    """The start of the tenant's local hour holding `now` (a limit "per hour"
    resets then; in a zone 30 minutes off UTC that is at :30 UTC)."""
    zone = zone_of(zone_name)
    local = now.astimezone(zone)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)


def day_start(now: datetime, zone_name: str | None) -> datetime:
    """The start of the tenant's local day holding `now` (a daily budget resets
    then; a midnight the clocks skip starts the day at the jump)."""
    zone = zone_of(zone_name)
    return _instant(now.astimezone(zone).date(), 0, zone)
