"""A company's plan limits: `Plan.max_users`, `max_connections` and `max_campaigns`."""

from __future__ import annotations

import peewee

from api.errors import Forbidden
from db.base import locked
from db.companies import Company, Plan


def enforce_plan_limit(company_id: int, resource: str, existing: peewee.ModelSelect) -> None:
    """403 `plan_limit_reached` when one more of `resource` ("users", "connections", "campaigns") would take
    the company past its plan's `max_<resource>`; `existing` selects those it has.

    Call it inside the transaction that adds one: it locks the company's row, so two requests racing for
    the last one take turns and the second one counts the first one's."""
    company = locked(Company.select(Company.id, Company.plan).where(Company.id == company_id)).get()
    plan = Plan.get_or_none(Plan.id == company.plan_id)
    if plan is None:
        return
    limit = getattr(plan, f"max_{resource}")
    if existing.count() >= limit:
        raise Forbidden(f"the plan {plan.name!r} allows {limit} {resource}", "plan_limit_reached",
                        {"limit": limit, "resource": resource})
