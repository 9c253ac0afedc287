"""Business hours in the company's timezone, across day boundaries, and menu routing."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from db.queue_rules import (
    is_open,
    open_time_after,
    route_menu_choice,
    validate_business_hours,
    validate_special_days,
)

WEEKDAYS_9_TO_18 = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def queue(hours=None, options=None, special=None):
    return SimpleNamespace(business_hours=hours or {}, special_days=special or {}, menu_options=options or [])


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_a_queue_without_hours_is_always_open():
    assert is_open(queue(), utc(2026, 1, 4, 3, 0), "America/Sao_Paulo")


def test_hours_are_read_in_the_company_timezone():
    # Monday 2026-01-05 11:30 UTC is 08:30 in São Paulo (UTC-3): not open yet there.
    assert not is_open(queue(WEEKDAYS_9_TO_18), utc(2026, 1, 5, 11, 30), "America/Sao_Paulo")
    assert is_open(queue(WEEKDAYS_9_TO_18), utc(2026, 1, 5, 11, 30), "UTC")
    assert is_open(queue(WEEKDAYS_9_TO_18), utc(2026, 1, 5, 12, 0), "America/Sao_Paulo")


def test_the_start_is_inside_and_the_end_is_outside():
    hours = queue(WEEKDAYS_9_TO_18)

    assert is_open(hours, utc(2026, 1, 5, 9, 0), "UTC")
    assert is_open(hours, utc(2026, 1, 5, 17, 59), "UTC")
    assert not is_open(hours, utc(2026, 1, 5, 18, 0), "UTC")


def test_the_weekday_is_the_local_one_across_midnight():
    # Friday 23:30 in São Paulo is already Saturday 02:30 in UTC.
    late_friday = queue({"fri": [["20:00", "24:00"]]})

    assert is_open(late_friday, utc(2026, 1, 10, 2, 30), "America/Sao_Paulo")
    assert not is_open(late_friday, utc(2026, 1, 10, 2, 30), "UTC")


def test_a_night_shift_is_two_intervals_on_consecutive_days():
    night = queue({"mon": [["22:00", "24:00"]], "tue": [["00:00", "06:00"]]})

    assert is_open(night, utc(2026, 1, 5, 23, 59), "UTC")
    assert is_open(night, utc(2026, 1, 6, 0, 0), "UTC")
    assert not is_open(night, utc(2026, 1, 6, 6, 0), "UTC")


def test_a_day_left_out_is_closed_and_naive_times_are_utc():
    assert not is_open(queue(WEEKDAYS_9_TO_18), dt.datetime(2026, 1, 4, 12, 0), "UTC")  # a Sunday
    assert is_open(queue(WEEKDAYS_9_TO_18), dt.datetime(2026, 1, 5, 12, 0), "Asia/Tokyo") is False  # 21:00 there


def test_daylight_saving_time_moves_the_utc_window():
    hours = queue({"mon": [["09:00", "10:00"]]})

    assert is_open(hours, utc(2026, 1, 5, 14, 30), "America/New_York")  # EST, UTC-5
    assert is_open(hours, utc(2026, 7, 6, 13, 30), "America/New_York")  # EDT, UTC-4
    assert not is_open(hours, utc(2026, 7, 6, 14, 30), "America/New_York")


def test_validation_sorts_intervals_and_names_what_is_wrong():
    assert validate_business_hours({"mon": [["14:00", "18:00"], ["08:00", "12:00"]]}) == {
        "mon": [["08:00", "12:00"], ["14:00", "18:00"]]
    }
    for bad, reason in [
        ({"monday": [["08:00", "12:00"]]}, "weekday"),
        ({"mon": [["8:00", "12:00"]]}, "HH:MM"),
        ({"mon": [["12:00", "08:00"]]}, "start before"),
        ({"mon": [["08:00", "12:00"], ["11:00", "13:00"]]}, "overlaps"),
        ({"mon": [["24:00", "24:00"]]}, "start before"),
        ({"mon": [["08:00"]]}, "[start, end]"),
    ]:
        with pytest.raises(ValueError, match=reason):
            validate_business_hours(bad)


def test_a_menu_answer_routes_to_its_queue():
    menu = queue(options=[{"option": "1", "label": "Sales", "queueId": 2}, {"option": "B", "label": "x", "queueId": 3}])

    assert route_menu_choice(menu, " 1 ") == 2
    assert route_menu_choice(menu, "b") == 3
    assert route_menu_choice(menu, "9") is None


def test_a_special_day_has_its_own_hours_in_the_local_date_whatever_the_weekday():
    christmas = queue(WEEKDAYS_9_TO_18, special={"2026-12-24": [["09:00", "12:00"]], "2026-12-25": []})

    assert is_open(christmas, utc(2026, 12, 24, 14, 0), "America/Sao_Paulo")  # Thursday 11:00 there
    assert not is_open(christmas, utc(2026, 12, 24, 16, 0), "America/Sao_Paulo")  # 13:00 there: closed at noon
    assert not is_open(christmas, utc(2026, 12, 25, 14, 0), "America/Sao_Paulo")  # Friday, closed all day
    assert not is_open(christmas, utc(2026, 12, 26, 1, 0), "America/Sao_Paulo")  # still the 25th there, 22:00
    assert is_open(christmas, utc(2026, 12, 28, 14, 0), "America/Sao_Paulo")  # a Monday like any other
    assert is_open(queue(special={"2026-12-24": [["08:00", "12:00"]]}), utc(2026, 12, 23, 23, 0), "UTC")
    assert not is_open(queue(special={"2026-12-25": []}), utc(2026, 12, 25, 12, 0), "UTC")  # always open but that day


@pytest.mark.parametrize("days, says", [
    ({"25/12/2026": []}, "not a date as YYYY-MM-DD"),
    ({"2026-02-30": []}, "not a date as YYYY-MM-DD"),
    ({"2026-12-24": [["12:00", "09:00"]]}, "must start before it ends"),
    ({f"2026-01-01T{n}": [] for n in range(401)}, "at most 400 special days"),
])
def test_special_days_are_checked_as_dates_with_a_weekday_s_intervals(days, says):
    with pytest.raises(ValueError, match=says):
        validate_special_days(days)


def test_special_days_are_kept_in_date_order_with_their_intervals_sorted():
    assert list(validate_special_days({"2026-12-31": [["14:00", "18:00"], ["08:00", "12:00"]], "2026-12-25": []})
                .items()) == [("2026-12-25", []), ("2026-12-31", [["08:00", "12:00"], ["14:00", "18:00"]])]


def naive(*args):
    return dt.datetime(*args)


def test_open_time_pauses_while_the_queue_is_closed():
    hours = queue(WEEKDAYS_9_TO_18)
    # Friday 2026-01-09 17:00 in São Paulo (20:00 UTC): one open hour left that day, then the weekend.
    assert open_time_after(hours, naive(2026, 1, 9, 20, 0), 90, "America/Sao_Paulo") == naive(2026, 1, 12, 12, 30)
    # Opened on Saturday: the clock starts at Monday's opening.
    assert open_time_after(hours, naive(2026, 1, 10, 12, 0), 30, "America/Sao_Paulo") == naive(2026, 1, 12, 12, 30)
    # Within the day: plain minutes; exactly at closing time, the end of the day.
    assert open_time_after(hours, naive(2026, 1, 5, 13, 0), 60, "America/Sao_Paulo") == naive(2026, 1, 5, 14, 0)
    assert open_time_after(hours, naive(2026, 1, 5, 12, 0), 540, "America/Sao_Paulo") == naive(2026, 1, 5, 21, 0)


def test_open_time_follows_special_days_and_split_shifts():
    hours = queue({"mon": [["08:00", "12:00"], ["14:00", "18:00"]], "tue": [["08:00", "18:00"]]},
                  special={"2026-01-06": []})
    # Monday 11:00 UTC: one hour before lunch, two after it, Tuesday a holiday, the next Monday for the rest.
    assert open_time_after(hours, naive(2026, 1, 5, 11, 0), 180, "UTC") == naive(2026, 1, 5, 16, 0)
    assert open_time_after(hours, naive(2026, 1, 5, 11, 0), 360, "UTC") == naive(2026, 1, 12, 9, 0)


def test_open_time_counts_real_minutes_across_a_clock_change():
    # New York springs forward on Sunday 2026-03-08: a queue open all Sunday is open 23 real hours that day.
    hours = queue({"sun": [["00:00", "24:00"]]})
    start = naive(2026, 3, 8, 5, 0)  # Sunday 00:00 EST
    assert open_time_after(hours, start, 23 * 60, "America/New_York") == naive(2026, 3, 9, 4, 0)  # Monday 00:00 EDT
    # The 24th hour is the first of the next Sunday (00:00 EDT, 04:00 UTC).
    assert open_time_after(hours, start, 24 * 60, "America/New_York") == naive(2026, 3, 15, 5, 0)


def test_open_time_is_calendar_time_without_hours_and_none_for_a_queue_never_open():
    assert open_time_after(queue(), naive(2026, 1, 10, 12, 0), 90, "UTC") == naive(2026, 1, 10, 13, 30)
    assert open_time_after(queue({"mon": []}), naive(2026, 1, 10, 12, 0), 90, "UTC") is None
    # Only special hours: every other day is open all day, as `is_open` reads them.
    assert open_time_after(queue(special={"2026-01-10": []}), naive(2026, 1, 10, 12, 0), 90, "UTC") == \
        naive(2026, 1, 11, 1, 30)
