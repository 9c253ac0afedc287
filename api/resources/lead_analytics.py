"""`GET /api/analytics/leads?days=7`: how the company's leads did over the last days, in its timezone.

The window is today and the `days - 1` days before it, local midnight to now. Counts by status,
source and category are of the leads created in the window (their status now); the conversion
rate is the share of those that are won; the value won sums the leads that became won in the window.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from zoneinfo import ZoneInfo

import peewee
from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.resources.leads import MoneyOut, require
from api.schemas import OutSchema, QuerySchema, UtcDateTime
from api.scoping import owned
from api.security import current_principal
from db.base import utcnow
from db.companies import Company
from db.leads import LEAD_CATEGORIES, LEAD_SOURCES, LEAD_STATUSES, Lead

blueprint = Blueprint("lead_analytics", __name__, url_prefix="/api/analytics")


class LeadAnalyticsQuery(QuerySchema):
    days: int = Field(7, ge=1, le=366)


class DayCount(OutSchema):
    date: dt.date
    count: int


class LeadAnalyticsOut(OutSchema):
    days: int
    timezone: str
    since: UtcDateTime
    until: UtcDateTime
    total: int = Field(description="leads created in the window")
    won: int = Field(description="of those, how many are won now")
    conversion_rate: float = Field(description="won / total, 0 when no lead was created")
    value_won: MoneyOut = Field(description="the value of the leads that became won in the window")
    new_per_day: list[DayCount]
    by_status: dict[str, int]
    by_source: dict[str, int]
    by_category: dict[str, int]


def window_start(days: int, timezone: str, now: dt.datetime) -> dt.datetime:
    """Local midnight `days - 1` days before today, as naive UTC."""
    zone = ZoneInfo(timezone)
    today = now.replace(tzinfo=dt.UTC).astimezone(zone).date()
    midnight = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), tzinfo=zone)
    return midnight.astimezone(dt.UTC).replace(tzinfo=None)


def counts_by(field: peewee.Field, leads: peewee.ModelSelect, names: tuple[str, ...]) -> dict[str, int]:
    """{name: count} for every known name (0 when none), from one GROUP BY."""
    found = dict(leads.select(field, peewee.fn.COUNT(Lead.id)).group_by(field).tuples())
    return {name: found.get(name, 0) for name in names}


def per_day(leads: peewee.ModelSelect, first_day: dt.date, days: int, zone: ZoneInfo) -> list[dict]:
    """Leads created on each local day of the window, oldest first, days without leads included."""
    counts: Counter[dt.date] = Counter()
    for (created_at,) in leads.select(Lead.created_at).tuples().iterator():
        counts[created_at.replace(tzinfo=dt.UTC).astimezone(zone).date()] += 1
    dates = [first_day + dt.timedelta(days=n) for n in range(days)]
    return [{"date": date, "count": counts[date]} for date in dates]


@blueprint.get("/leads")
@endpoint(summary="Leads over the last days: new per day, by status, source and category, conversion, value won",
          tags=["leads", "analytics"], query=LeadAnalyticsQuery, response=LeadAnalyticsOut, errors=[403],
          scope="leads:read")
def lead_analytics(query: LeadAnalyticsQuery):
    require("view")
    timezone = Company.get_by_id(current_principal().company_id).timezone
    now = utcnow()
    since = window_start(query.days, timezone, now)
    created = owned(Lead).where(Lead.created_at >= since)
    total = created.count()
    by_status = counts_by(Lead.status, created, LEAD_STATUSES)
    value_won = owned(Lead).select(peewee.fn.SUM(Lead.value)).where(Lead.won_at >= since).scalar()
    first_day = since.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).date()
    return LeadAnalyticsOut(
        days=query.days, timezone=timezone, since=since, until=now, total=total, won=by_status["won"],
        conversion_rate=round(by_status["won"] / total, 4) if total else 0.0,
        value_won=Decimal(str(value_won or 0)),
        new_per_day=per_day(created, first_day, query.days, ZoneInfo(timezone)),
        by_status=by_status,
        by_source=counts_by(Lead.source, created, LEAD_SOURCES),
        by_category=counts_by(Lead.category, created, LEAD_CATEGORIES),
    )
