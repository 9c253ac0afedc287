"""Business hours in the company's timezone, across day boundaries, and menu routing."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from db.queue_rules import is_open, route_menu_choice, validate_business_hours

WEEKDAYS_9_TO_18 = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def queue(hours=None, options=None):
    return SimpleNamespace(business_hours=hours or {}, menu_options=options or [])


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
