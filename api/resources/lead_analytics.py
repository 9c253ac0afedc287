"""`GET /api/analytics/leads?days=7`: how the company's leads did over the last days, in its timezone.

The window is today and the `days - 1` days before it, local midnight to now. Counts by status,
source and category are of the leads created in the window (their status now); the conversion
rate is the share of those that are won; the value won sums the leads that became won in the window.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import peewee
from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.periods import PeriodOut, PeriodQuery, company_period, per_local_day
from api.resources.leads import MoneyOut, require
from api.schemas import OutSchema
from api.scoping import owned
from db.leads import LEAD_CATEGORIES, LEAD_SOURCES, LEAD_STATUSES, Lead

blueprint = Blueprint("lead_analytics", __name__, url_prefix="/api/analytics")


class DayCount(OutSchema):
    date: dt.date
    count: int


class LeadAnalyticsOut(PeriodOut):
    total: int = Field(description="leads created in the window")
    won: int = Field(description="of those, how many are won now")
    conversion_rate: float = Field(description="won / total, 0 when no lead was created")
    value_won: MoneyOut = Field(description="the value of the leads that became won in the window")
    new_per_day: list[DayCount]
    by_status: dict[str, int]
    by_source: dict[str, int]
    by_category: dict[str, int]


def counts_by(field: peewee.Field, leads: peewee.ModelSelect, names: tuple[str, ...]) -> dict[str, int]:
    """{name: count} for every known name (0 when none), from one GROUP BY."""
    found = dict(leads.select(field, peewee.fn.COUNT(Lead.id)).group_by(field).tuples())
    return {name: found.get(name, 0) for name in names}


@blueprint.get("/leads")
@endpoint(summary="Leads over the last days: new per day, by status, source and category, conversion, value won",
          tags=["leads", "analytics"], query=PeriodQuery, response=LeadAnalyticsOut, errors=[403],
          scope="leads:read")
def lead_analytics(query: PeriodQuery):
    require("view")
    period = company_period(query.days)
    created = owned(Lead).where(Lead.created_at >= period.since)
    total = created.count()
    by_status = counts_by(Lead.status, created, LEAD_STATUSES)
    value_won = owned(Lead).select(peewee.fn.SUM(Lead.value)).where(Lead.won_at >= period.since).scalar()
    created_per_day = zip(period.dates, per_local_day(owned(Lead), Lead.created_at, period), strict=True)
    return LeadAnalyticsOut(
        **period.out(),
        total=total,
        won=by_status["won"],
        conversion_rate=round(by_status["won"] / total, 4) if total else 0.0,
        value_won=Decimal(str(value_won or 0)),
        new_per_day=[{"date": day, "count": count} for day, count in created_per_day],
        by_status=by_status,
        by_source=counts_by(Lead.source, created, LEAD_SOURCES),
        by_category=counts_by(Lead.category, created, LEAD_CATEGORIES),
    )
