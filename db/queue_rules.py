"""How a queue decides, as pure functions: is it open now, and where does a menu choice route.

Business hours are `{"mon": [["08:00", "18:00"], ...], ...}` read in the company's timezone.
An empty mapping means always open; once any day is given, a day that is missing is closed.
An interval runs from its start up to, not including, its end; "24:00" ends at midnight, so a
night shift is written as two intervals on consecutive days.
Special days (holidays, a shorter Christmas Eve) are `{"2026-12-25": [], "2026-12-24": [["08:00", "12:00"]]}`:
on that local date, those intervals instead of the weekday's (none: closed all day), whatever the weekly hours.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MOST_SPECIAL_DAYS = 400  # a year's holidays and more, kept until someone prunes them


class HasRules(Protocol):
    business_hours: Mapping[str, Sequence[Sequence[str]]]
    special_days: Mapping[str, Sequence[Sequence[str]]]
    menu_options: Sequence[Mapping[str, Any]]


def minutes(value: str) -> int:
    """Minutes since midnight of "HH:MM"; ValueError for anything else."""
    if not isinstance(value, str) or not _TIME.match(value):
        raise ValueError(f"{value!r} is not a time as HH:MM")
    hours, mins = value.split(":")
    return int(hours) * 60 + int(mins)


def validate_business_hours(hours: Mapping[str, Sequence[Sequence[str]]]) -> dict[str, list[list[str]]]:
    """The hours with each day's intervals sorted; ValueError naming the first problem.

    Checks: known weekday keys, [start, end] pairs of HH:MM, start before end, no overlaps.
    """
    normalized: dict[str, list[list[str]]] = {}
    for day, intervals in hours.items():
        if day not in WEEKDAYS:
            raise ValueError(f"{day!r} is not a weekday; use {', '.join(WEEKDAYS)}")
        normalized[day] = validate_intervals(day, intervals)
    return normalized


def validate_special_days(days: Mapping[str, Sequence[Sequence[str]]]) -> dict[str, list[list[str]]]:
    """The special days in date order, each day's intervals checked as a weekday's; ValueError naming the first
    problem (a date that is no date as YYYY-MM-DD, too many days)."""
    if len(days) > MOST_SPECIAL_DAYS:
        raise ValueError(f"at most {MOST_SPECIAL_DAYS} special days")
    normalized: dict[str, list[list[str]]] = {}
    for date, intervals in sorted(days.items()):
        try:
            if not _DATE.match(date):
                raise ValueError
            dt.date.fromisoformat(date)
        except ValueError:
            raise ValueError(f"{date!r} is not a date as YYYY-MM-DD") from None
        normalized[date] = validate_intervals(date, intervals)
    return normalized


def validate_intervals(day: str, intervals: Sequence[Sequence[str]]) -> list[list[str]]:
    """One day's [start, end] intervals sorted; ValueError for one that is not HH:MM, ends before it starts or
    overlaps another."""
    spans = []
    for interval in intervals:
        if len(interval) != 2:
            raise ValueError(f"{day}: each interval is [start, end]")
        start, end = interval
        if start == "24:00" or minutes(start) >= minutes(end):
            raise ValueError(f"{day}: {start}-{end} must start before it ends")
        spans.append([start, end])
    spans.sort(key=lambda span: minutes(span[0]))
    for previous, current in itertools.pairwise(spans):
        if minutes(current[0]) < minutes(previous[1]):
            raise ValueError(f"{day}: {previous[0]}-{previous[1]} overlaps {current[0]}-{current[1]}")
    return spans


def zone(timezone: str) -> ZoneInfo:
    """The IANA zone; UTC (with a warning) for a name the system does not know."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown timezone %r, reading business hours in UTC", timezone)
        return ZoneInfo("UTC")


def is_open(queue: HasRules, at: dt.datetime, timezone: str) -> bool:
    """Whether the queue takes tickets at `at` (aware, or naive UTC as stored) in the company's `timezone`: by the
    local date's special hours if it has some, else by the weekday's."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    local = at.astimezone(zone(timezone))
    today = day_hours(queue, local.date())
    now = local.hour * 60 + local.minute
    return today is None or any(start <= now < end for start, end in today)


def day_hours(queue: HasRules, date: dt.date) -> list[tuple[int, int]] | None:
    """The local date's open intervals in minutes since midnight, by its special hours if it has some, else by its
    weekday's; None when the queue is always open that day (no weekly hours at all)."""
    hours, special = queue.business_hours or {}, queue.special_days or {}
    today = special.get(date.isoformat())
    if today is None:
        if not hours:
            return None
        today = hours.get(WEEKDAYS[date.weekday()], [])
    return [(minutes(start), minutes(end)) for start, end in today]


def open_time_after(queue: HasRules, start: dt.datetime, open_minutes: int, timezone: str,
                    within_days: int = MOST_SPECIAL_DAYS) -> dt.datetime | None:
    """When `open_minutes` of the queue's business hours will have passed since `start` (naive UTC, as stored, and
    so the answer): the hours a due time counts when it pauses while the queue is closed. Calendar time for a queue
    without hours; None when the queue opens too little within `within_days` to get there."""
    begin = start.replace(tzinfo=dt.UTC)
    if not queue.business_hours and not queue.special_days:
        return start + dt.timedelta(minutes=open_minutes)
    local_zone, left = zone(timezone), dt.timedelta(minutes=open_minutes)
    first_day = begin.astimezone(local_zone).date()
    for date in (first_day + dt.timedelta(days=n) for n in range(within_days + 1)):
        intervals = day_hours(queue, date)
        for opens, closes in [(0, 24 * 60)] if intervals is None else intervals:
            span_start = max(begin, local_instant(date, opens, local_zone))
            span_end = local_instant(date, closes, local_zone)
            if span_end <= span_start:
                continue
            if span_end - span_start >= left:
                return (span_start + left).replace(tzinfo=None)
            left -= span_end - span_start
    return None


def local_instant(date: dt.date, minute_of_day: int, local_zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local date's wall-clock minute (24:00 being the next midnight)."""
    wall = dt.datetime.combine(date, dt.time()) + dt.timedelta(minutes=minute_of_day)
    return wall.replace(tzinfo=local_zone).astimezone(dt.UTC)


def route_menu_choice(queue: HasRules, text: str) -> int | None:
    """The queue id a customer's answer to the queue's menu picks, or None when it matches no option."""
    answer = text.strip().casefold()
    for option in queue.menu_options or []:
        if str(option.get("option", "")).strip().casefold() == answer:
            return option.get("queueId")
    return None
