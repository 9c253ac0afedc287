"""The period of an `/api/analytics/...` view, in the company's timezone, and counts per local day.

A period of `days` is today and the `days - 1` days before it, local midnight to now. Rows are
put on local days by the database (`db.base.local_date`), so a count per day is one GROUP BY.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import peewee
from pydantic import Field

from api.schemas import OutSchema, QuerySchema, UtcDateTime
from api.security import current_principal
from db.base import as_date, local_date, utcnow
from db.company_settings import company_setting


class PeriodQuery(QuerySchema):
    days: int = Field(7, ge=1, le=366)


class PeriodOut(OutSchema):
    days: int
    timezone: str
    since: UtcDateTime = Field(description="local midnight `days - 1` days ago")
    until: UtcDateTime = Field(description="now")


def window_start(days: int, timezone: str, now: dt.datetime) -> dt.datetime:
    """Local midnight `days - 1` days before today, as naive UTC."""
    zone = ZoneInfo(timezone)
    today = now.replace(tzinfo=dt.UTC).astimezone(zone).date()
    midnight = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), tzinfo=zone)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Period:
    days: int
    timezone: str
    since: dt.datetime  # naive UTC
    until: dt.datetime  # naive UTC

    @property
    def dates(self) -> list[dt.date]:
        """The local days of the period, oldest first."""
        first = self.since.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(self.timezone)).date()
        return [first + dt.timedelta(days=n) for n in range(self.days)]

    def out(self) -> dict:
        return {"days": self.days, "timezone": self.timezone, "since": self.since, "until": self.until}


def company_period(days: int) -> Period:
    """The last `days` local days of the caller's company, up to now."""
    timezone = company_setting(current_principal().company_id, "timezone")
    now = utcnow()
    return Period(days, timezone, window_start(days, timezone, now), now)


def per_local_day(rows: peewee.ModelSelect, column: peewee.Field, period: Period) -> list[int]:
    """How many of `rows` have `column` on each local day of the period, oldest first (0 for none)."""
    day = local_date(column, period.timezone).alias("local_day")
    counted = (
        rows.select(day, peewee.fn.COUNT(peewee.SQL("*")))
        .where(column >= period.since)
        .group_by(peewee.SQL("local_day"))
    )
    found = {as_date(date): count for date, count in counted.tuples()}
    return [found.get(date, 0) for date in period.dates]
