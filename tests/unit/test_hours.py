"""Business hours, away messages and limits as pure rules, on a clock the
tests hold: every weekday, split shifts, holidays, a vacation, ranges past
midnight, DST in America/Sao_Paulo (as it was until 2019, when clocks
jumped at midnight) and Europe/Lisbon, and the limits' hour and day."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from python_services.common.errors import ApiError
from python_services.core import hours
from python_services.core.decide import Facts, decide, periods
from python_services.core.normalize import Event
from python_services.core.settings import effective_settings, validate_settings

SP = ZoneInfo("America/Sao_Paulo")
LISBON = ZoneInfo("Europe/Lisbon")
UTC = timezone.utc
SPLIT = {"mon": [["09:00", "12:00"], ["14:00", "18:00"]], "tue": [["09:00", "12:00"], ["14:00", "18:00"]],
         "wed": [["09:00", "12:00"], ["14:00", "18:00"]], "thu": [["09:00", "12:00"], ["14:00", "18:00"]],
         "fri": [["09:00", "12:00"], ["14:00", "18:00"]], "sat": [["10:00", "13:00"]]}


def shop(**settings):
    return effective_settings({"timezone": "America/Sao_Paulo", "business_hours": SPLIT, **settings})


def local(zone, *args):
    """A local wall-clock time as an instant (the first one, when it happens twice)."""
    return datetime(*args, tzinfo=zone).astimezone(UTC)


# ---------------------------------------------------------------- open or closed, each weekday

# 2026-03-02 is a Monday
@pytest.mark.parametrize("day, clock, is_open", [
    (2, (8, 59), False), (2, (9, 0), True), (2, (11, 59), True), (2, (12, 0), False), (2, (13, 30), False),
    (2, (14, 0), True), (2, (17, 59), True), (2, (18, 0), False),
    (3, (10, 0), True), (4, (15, 0), True), (5, (12, 30), False), (6, (17, 0), True),
    (7, (10, 0), True), (7, (13, 0), False), (7, (9, 59), False),
    (8, (10, 0), False), (8, (15, 0), False),
])
def test_each_weekday_opens_by_its_split_shifts_in_the_tenants_time(day, clock, is_open):
    now = local(SP, 2026, 3, day, *clock)
    assert hours.status(now, shop()).open is is_open


def test_without_business_hours_the_shop_is_always_open():
    assert hours.status(local(SP, 2026, 3, 8, 3, 0), effective_settings({})).open


def test_a_day_not_listed_is_closed_and_an_empty_object_closes_every_day():
    assert not hours.status(local(SP, 2026, 3, 8, 10, 0), shop()).open  # Sunday
    status = hours.status(local(SP, 2026, 3, 2, 10, 0), shop(business_hours={}))
    assert not status.open and status.opens_at is None
    assert status.describe(local(SP, 2026, 3, 2, 10, 0)) == "closed — no opening hours ahead"


def test_closed_at_lunch_opens_at_two_and_says_so_in_sao_paulo_time():
    now = local(SP, 2026, 3, 2, 12, 30)
    status = hours.status(now, shop())
    assert status.opens_at == local(SP, 2026, 3, 2, 14, 0)
    assert status.closed_since == local(SP, 2026, 3, 2, 12, 0)
    assert status.describe(now) == "closed — opens Mon 14:00, São Paulo time"


def test_on_saturday_afternoon_the_shop_opens_next_on_monday_morning():
    now = local(SP, 2026, 3, 7, 15, 0)
    status = hours.status(now, shop())
    assert status.describe(now) == "closed — opens Mon 09:00, São Paulo time"
    assert status.closed_since == local(SP, 2026, 3, 7, 13, 0)


def test_open_says_until_when():
    now = local(SP, 2026, 3, 2, 15, 0)
    assert hours.status(now, shop()).describe(now) == "open until Mon 18:00, São Paulo time"


# ---------------------------------------------------------------- past midnight, 24:00, holidays, vacations


def test_a_range_past_midnight_belongs_to_the_day_it_starts_and_runs_into_the_next():
    bar = shop(business_hours={"fri": [["20:00", "02:00"]], "sat": [["20:00", "24:00"]]})
    assert hours.status(local(SP, 2026, 3, 6, 23, 0), bar).open
    assert hours.status(local(SP, 2026, 3, 7, 1, 59), bar).open
    closed = hours.status(local(SP, 2026, 3, 7, 2, 0), bar)
    assert not closed.open and closed.closed_since == local(SP, 2026, 3, 7, 2, 0)
    assert closed.opens_at == local(SP, 2026, 3, 7, 20, 0)
    assert hours.status(local(SP, 2026, 3, 7, 23, 59), bar).open
    assert not hours.status(local(SP, 2026, 3, 8, 0, 0), bar).open


def test_touching_ranges_across_midnight_stay_one_opening():
    late = shop(business_hours={"mon": [["22:00", "24:00"]], "tue": [["00:00", "03:00"]]})
    status = hours.status(local(SP, 2026, 3, 2, 23, 0), late)
    assert status.open and status.closes_at == local(SP, 2026, 3, 3, 3, 0)


def test_a_holiday_keeps_the_shop_closed_all_day_and_the_next_opening_skips_it():
    settings = shop(holidays=["2026-04-03"])  # Good Friday
    now = local(SP, 2026, 4, 3, 10, 0)
    status = hours.status(now, settings)
    assert not status.open
    assert status.closed_since == local(SP, 2026, 4, 2, 18, 0)
    assert status.opens_at == local(SP, 2026, 4, 4, 10, 0)


def test_a_vacation_closes_the_shop_until_it_ends_and_then_opens_as_usual():
    settings = shop(closed_until="2026-03-16")
    weeks_before = hours.status(local(SP, 2026, 3, 2, 10, 0), settings)
    assert weeks_before.describe(local(SP, 2026, 3, 2, 10, 0)).endswith("opens Mon 16 Mar 09:00, São Paulo time")
    now = local(SP, 2026, 3, 10, 10, 0)
    status = hours.status(now, settings)
    assert not status.open and status.vacation
    assert status.opens_at == local(SP, 2026, 3, 16, 9, 0)
    assert status.describe(now) == "closed for a break (closed_until) — opens Mon 09:00, São Paulo time"
    assert hours.status(local(SP, 2026, 3, 16, 9, 30), settings).open


def test_a_vacation_ending_in_the_middle_of_a_shift_opens_then():
    settings = shop(closed_until="2026-03-02T10:30")
    assert hours.status(local(SP, 2026, 3, 2, 10, 0), settings).opens_at == local(SP, 2026, 3, 2, 10, 30)
    assert hours.status(local(SP, 2026, 3, 2, 10, 31), settings).open


def test_a_vacation_with_no_weekly_hours_opens_the_moment_it_ends():
    settings = effective_settings({"timezone": "America/Sao_Paulo", "closed_until": "2026-03-16T09:00",
                                   "outside_hours": "away_message", "away_message": "Back {opens}."})
    now = local(SP, 2026, 3, 10, 10, 0)
    status = hours.status(now, settings)
    assert not status.open and status.vacation
    assert status.opens_at == local(SP, 2026, 3, 16, 9, 0)
    assert decide_at(now, settings).fixed_text == "Back Mon 09:00 (São Paulo time)."
    assert hours.status(local(SP, 2026, 3, 16, 9, 0), settings).open


def test_a_vacation_ending_while_the_week_is_closed_stays_the_same_closed_period():
    # the vacation ends on Sunday morning; the shop next opens on Monday at 09:00
    settings = shop(closed_until="2026-03-08T08:00", outside_hours="away_message", away_message="Fechado.")
    during = decide_at(local(SP, 2026, 3, 7, 20, 0), settings)
    after = decide_at(local(SP, 2026, 3, 8, 15, 0), settings)
    assert during.once == after.once == ("away_message", local(SP, 2026, 3, 8, 8, 0))
    # once the shop has opened and closed again, it is a new closed period
    monday_night = hours.status(local(SP, 2026, 3, 9, 21, 0), settings)
    assert monday_night.closed_since == local(SP, 2026, 3, 9, 18, 0)


KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14


@pytest.mark.parametrize("zone, until, week, opens", [
    # 9999-12-31 is a Friday: the shop opens that morning, the last one there is
    ("America/Sao_Paulo", "9999-12-31", SPLIT, local(SP, 9999, 12, 31, 9, 0)),
    ("Pacific/Kiritimati", "9999-12-31", SPLIT, local(KIRITIMATI, 9999, 12, 31, 9, 0)),
    # the next opening would be on a Saturday past the calendar's end
    ("America/Sao_Paulo", "9999-12-31", {"sat": [["10:00", "13:00"]]}, None),
    # an end that does not fit a datetime once in UTC
    ("America/Sao_Paulo", "9999-12-31T23:30", SPLIT, None),
    ("America/Sao_Paulo", "9999-12-31T23:30", None, None),
])
def test_a_stored_vacation_at_the_end_of_the_calendar_keeps_the_shop_closed_without_failing(zone, until, week,
                                                                                                opens):
    settings = shop(timezone=zone, business_hours=week, closed_until=until, outside_hours="away_message",
                    away_message="Back {opens}.")
    now = local(SP, 2026, 3, 2, 10, 0)
    status = hours.status(now, settings)
    assert not status.open and status.vacation and status.opens_at == opens
    assert decide_at(now, settings).decision == "outside_hours"
    if opens is None:
        assert status.describe(now) == "closed for a break (closed_until) — no opening hours ahead"
        assert decide_at(now, settings).fixed_text == "Back at a time not yet set."


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Sao_Paulo", "UTC"])
def test_a_stored_vacation_at_the_start_of_the_calendar_is_long_over(zone):
    settings = shop(timezone=zone, business_hours=None, closed_until="0001-01-01")
    status = hours.status(local(SP, 2026, 3, 2, 10, 0), settings)
    assert status.open and not status.vacation


@pytest.mark.parametrize("until", ["9999-12-31", "9001-01-01", "0001-01-01", "1969-12-31",
                                   "9999-12-31T23:59+14:00", "0001-01-01T00:00-14:00"])
def test_a_vacation_date_beyond_the_years_the_rules_can_count_is_refused(until):
    with pytest.raises(ApiError) as caught:
        validate_settings({"timezone": "Pacific/Kiritimati", "closed_until": until})
    assert caught.value.status == 400 and caught.value.field == "settings.closed_until"


def test_a_far_but_reachable_vacation_is_kept_and_opens_when_it_ends():
    assert validate_settings({"closed_until": "8999-12-31"})["closed_until"] == "8999-12-31"
    assert validate_settings({"closed_until": "1970-01-02"})["closed_until"] == "1970-01-02"
    status = hours.status(local(SP, 2026, 3, 2, 10, 0), shop(closed_until="8999-12-31"))
    assert status.vacation and status.opens_at == local(SP, 8999, 12, 31, 9, 0)


# ---------------------------------------------------------------- daylight saving


def test_sao_paulo_dst_start_at_midnight_a_shift_keeps_its_local_hours():
    # 2018-11-04: clocks jumped from 00:00 to 01:00 (-03 -> -02)
    settings = shop(business_hours={"sat": [["20:00", "24:00"]], "sun": [["00:00", "02:00"], ["09:00", "12:00"]]})
    assert hours.status(local(SP, 2018, 11, 3, 23, 30), settings).open
    # the skipped midnight: the Sunday range starts at the jump, so the night stays one opening
    assert hours.status(datetime(2018, 11, 4, 3, 30, tzinfo=UTC), settings).open  # 01:30 -02
    assert not hours.status(local(SP, 2018, 11, 4, 2, 30), settings).open
    assert hours.status(local(SP, 2018, 11, 4, 9, 0), settings).open
    assert local(SP, 2018, 11, 4, 9, 0) == datetime(2018, 11, 4, 11, 0, tzinfo=UTC)


def test_sao_paulo_dst_end_the_repeated_hour_does_not_stretch_a_range():
    # 2019-02-17: clocks went back from 00:00 to 23:00 on the 16th (-02 -> -03)
    settings = shop(business_hours={"sat": [["09:00", "18:00"]], "sun": [["09:00", "18:00"]]})
    sunday_nine = local(SP, 2019, 2, 17, 9, 0)
    assert sunday_nine == datetime(2019, 2, 17, 12, 0, tzinfo=UTC)
    closed = hours.status(local(SP, 2019, 2, 16, 23, 30), settings)
    assert closed.closed_since == datetime(2019, 2, 16, 20, 0, tzinfo=UTC)  # Sat 18:00 -02
    assert closed.opens_at == sunday_nine


@pytest.mark.parametrize("day, utc_open", [(28, 9), (29, 8)])
def test_lisbon_opens_at_nine_local_on_both_sides_of_the_spring_change(day, utc_open):
    # 2026-03-29: 01:00 -> 02:00 (WET -> WEST)
    settings = effective_settings({"timezone": "Europe/Lisbon",
                                   "business_hours": {d: [["09:00", "18:00"]] for d in hours.DAYS}})
    now = datetime(2026, 3, day, 7, 0, tzinfo=UTC)
    assert hours.status(now, settings).opens_at == datetime(2026, 3, day, utc_open, 0, tzinfo=UTC)
    assert hours.status(datetime(2026, 3, day, utc_open, 0, tzinfo=UTC), settings).open


def test_lisbon_autumn_change_a_night_shift_lasts_an_hour_longer_and_closes_at_local_two():
    # 2026-10-25: 02:00 -> 01:00 (WEST -> WET)
    settings = effective_settings({"timezone": "Europe/Lisbon", "business_hours": {"sat": [["22:00", "02:00"]]}})
    assert hours.status(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), settings).open  # the second 01:30
    status = hours.status(datetime(2026, 10, 25, 2, 0, tzinfo=UTC), settings)
    assert not status.open and status.closed_since == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)
    assert status.describe(datetime(2026, 10, 25, 2, 0, tzinfo=UTC)) == "closed — opens Sat 22:00, Lisbon time"


# ---------------------------------------------------------------- the limits' hour and day


def test_the_hourly_limit_resets_on_the_tenants_hour_also_half_an_hour_off_utc():
    now = datetime(2026, 3, 2, 10, 45, tzinfo=UTC)
    assert hours.hour_start(now, "America/Sao_Paulo") == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert hours.hour_start(now, "Asia/Kolkata") == datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    assert hours.hour_start(datetime(2026, 3, 2, 10, 15, tzinfo=UTC), "Asia/Kolkata") == datetime(
        2026, 3, 2, 9, 30, tzinfo=UTC)


def test_the_daily_budget_resets_at_midnight_in_the_tenants_time_zone():
    assert hours.day_start(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), "America/Sao_Paulo") == datetime(
        2026, 3, 1, 3, 0, tzinfo=UTC)
    assert hours.day_start(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), "America/Sao_Paulo") == datetime(
        2026, 3, 2, 3, 0, tzinfo=UTC)
    # the midnight Sao Paulo skipped in 2018: the day starts at the jump
    assert hours.day_start(datetime(2018, 11, 4, 12, 0, tzinfo=UTC), "America/Sao_Paulo") == datetime(
        2018, 11, 4, 3, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the decisions


CHAT = "5511987654321@s.whatsapp.net"
MONDAY_NIGHT = local(SP, 2026, 3, 2, 21, 0)
CUSTOMER = Event(instance="acme", event_type="messages.upsert", kind="message", chat_id=CHAT, wa_message_id="C1",
                 from_me=False, author="customer", message_type="conversation", text="Vocês têm tênis azul?",
                 sent_at=MONDAY_NIGHT, dedupe_key="messages.upsert:C1")
ACTIVE = {"paused": False, "pause_reason": None, "paused_until": None, "last_human_at": None}


def decide_at(now, settings, **facts):
    return decide(replace(CUSTOMER, sent_at=now), ACTIVE, settings, Facts(now=now, **facts))


def test_closed_with_an_away_message_sends_it_once_per_closed_period():
    settings = shop(outside_hours="away_message", away_message="Fechado! Abrimos {opens}.")
    first = decide_at(MONDAY_NIGHT, settings)
    assert first.decision == "outside_hours" and first.reply
    assert first.fixed_text == "Fechado! Abrimos Tue 09:00 (São Paulo time)."
    assert first.once == ("away_message", local(SP, 2026, 3, 2, 18, 0))
    assert "closed — opens Tue 09:00, São Paulo time" in first.reason
    # later the same night: the same closed period, already said
    later = decide_at(MONDAY_NIGHT + timedelta(hours=5), settings, away_sent=True)
    assert periods(MONDAY_NIGHT + timedelta(hours=5), settings).shop.closed_since == first.once[1]
    assert (later.decision, later.reply, later.fixed_text) == ("outside_hours", False, None)
    # the next closed period (Tuesday lunch) is a new one
    lunch = local(SP, 2026, 3, 3, 12, 15)
    assert decide_at(lunch, settings).once == ("away_message", local(SP, 2026, 3, 3, 12, 0))


def test_closed_and_silent_means_no_reply_at_all():
    verdict = decide_at(MONDAY_NIGHT, shop(outside_hours="silent"))
    assert (verdict.decision, verdict.reply, verdict.store_message) == ("outside_hours", False, True)


def test_closed_in_reply_mode_the_bot_still_answers():
    verdict = decide_at(MONDAY_NIGHT, shop())
    assert (verdict.decision, verdict.reply, verdict.fixed_text) == ("outside_hours", True, None)
    assert "says when it opens" in verdict.reason


def test_open_hours_reply_as_usual():
    assert decide_at(local(SP, 2026, 3, 2, 10, 0), shop()).decision == "reply"


def test_the_hourly_limit_stops_the_chat_records_rate_limited_once_then_stays_quiet():
    now = local(SP, 2026, 3, 2, 10, 20)
    settings = shop(max_replies_per_chat_per_hour=3)
    assert decide_at(now, settings, replies_this_hour=2).decision == "reply"
    limited = decide_at(now, settings, replies_this_hour=3)
    assert (limited.decision, limited.reply, limited.notify) == ("rate_limited", False, True)
    assert limited.once == ("rate_limited", local(SP, 2026, 3, 2, 10, 0))
    assert "no reply until Mon 11:00, São Paulo time" in limited.reason
    quiet = decide_at(now, settings, replies_this_hour=3, rate_limited_this_hour=True)
    assert (quiet.decision, quiet.reply, quiet.notify, quiet.once) == ("ignore", False, False, None)


def test_over_budget_falls_back_to_offline_and_tells_the_owner_once_a_day():
    now = local(SP, 2026, 3, 2, 10, 20)
    settings = shop(daily_llm_budget_usd=5)
    assert decide_at(now, settings, spent_today_usd=4.99).decision == "reply"
    over = decide_at(now, settings, spent_today_usd=5.0)
    assert (over.decision, over.reply, over.over_budget, over.notify) == ("over_budget", True, True, True)
    assert over.once == ("over_budget", local(SP, 2026, 3, 2, 0, 0))
    again = decide_at(now, settings, spent_today_usd=6, budget_told_today=True)
    assert (again.decision, again.reply, again.notify, again.once) == ("over_budget", True, False, None)


def test_over_budget_with_handoff_pauses_the_chat_for_a_person():
    verdict = decide_at(local(SP, 2026, 3, 2, 10, 20), shop(daily_llm_budget_usd=1, over_budget="handoff"),
                        spent_today_usd=2)
    assert verdict.decision == "over_budget" and not verdict.reply
    assert verdict.pause[:2] == ("handoff", None)


def test_the_owners_notification_number_is_never_answered_as_a_customer():
    verdict = decide_at(local(SP, 2026, 3, 2, 10, 20), shop(notify_owner_phone="5511987654321"))
    assert (verdict.decision, verdict.reply) == ("ignore", False)


# ---------------------------------------------------------------- settings rules


@pytest.mark.parametrize("settings, field", [
    ({"business_hours": {"mon": [["09:00", "25:00"]]}}, "settings.business_hours.mon[0]"),
    ({"business_hours": {"mon": [["09:00", "12:00"], ["11:00", "18:00"]]}}, "settings.business_hours.mon[1]"),
    ({"business_hours": {"monday": [["09:00", "12:00"]]}}, "settings.business_hours.monday"),
    ({"business_hours": {"mon": [["24:00", "02:00"]]}}, "settings.business_hours.mon[0]"),
    ({"business_hours": {"mon": [["09:00", "09:00"]]}}, "settings.business_hours.mon[0]"),
    ({"business_hours": {"mon": "09:00-18:00"}}, "settings.business_hours.mon"),
    ({"business_hours": [["09:00", "18:00"]]}, "settings.business_hours"),
    ({"holidays": ["2026-02-30"]}, "settings.holidays[0]"),
    ({"closed_until": "next monday"}, "settings.closed_until"),
    ({"outside_hours": "closed"}, "settings.outside_hours"),
    ({"over_budget": "stop"}, "settings.over_budget"),
    ({"daily_llm_budget_usd": -1}, "settings.daily_llm_budget_usd"),
    ({"max_replies_per_chat_per_hour": 0}, "settings.max_replies_per_chat_per_hour"),
    ({"notify_owner_phone": "call me"}, "settings.notify_owner_phone"),
    ({"notify_events": ["takeover", "lunch"]}, "settings.notify_events[1]"),
    ({"notify_text": {"lunch": "x"}}, "settings.notify_text.lunch"),
    ({"notify_email": "not an address"}, "settings.notify_email"),
])
def test_a_bad_hours_or_limits_setting_is_refused_naming_the_field(settings, field):
    with pytest.raises(ApiError) as caught:
        validate_settings(settings)
    assert caught.value.status == 400 and caught.value.field == field
    assert caught.value.message.startswith(field)


def test_good_hours_and_notification_settings_are_kept_in_their_clean_form():
    checked = validate_settings({"business_hours": SPLIT, "holidays": ["2026-12-25", "2026-01-01"],
                                 "closed_until": "2026-01-05T09:00", "notify_owner_phone": "+55 11 98765-4321",
                                 "notify_text": {"takeover": "{customer} is being answered by the team"}})
    assert checked["holidays"] == ["2026-01-01", "2026-12-25"]
    assert checked["notify_owner_phone"] == "5511987654321"
    assert checked["notify_text"]["takeover"] == "{customer} is being answered by the team"
    assert set(checked["notify_text"]) == {"takeover", "handoff", "rate_limited", "over_budget"}
