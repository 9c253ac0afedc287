"""Companies (tenants) and plans: the super admin's view over the whole installation."""

from __future__ import annotations

from typing import Literal

import peewee
from flask import Blueprint
from pydantic import Field

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import Conflict, NotFound
from api.pagination import paginate
from api.schemas import Int32, OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_or_404
from api.security import current_principal
from db.companies import Company, Plan
from db.company_settings import Timezone
from workers.sla import enqueue_retiming

blueprint = Blueprint("companies", __name__)
SUPER = ("super",)


class PlanOut(OutSchema):
    id: int
    name: str
    max_users: int
    max_connections: int
    max_campaigns: int
    price_cents: int
    active: bool


class PlanCreate(Schema):
    name: str = Field(min_length=1, max_length=100)
    max_users: Int32 = Field(10, ge=1)
    max_connections: Int32 = Field(3, ge=0)
    max_campaigns: Int32 = Field(20, ge=0)
    price_cents: Int32 = Field(0, ge=0)
    active: bool = True


class PlanUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    max_users: Int32 | None = Field(None, ge=1)
    max_connections: Int32 | None = Field(None, ge=0)
    max_campaigns: Int32 | None = Field(None, ge=0)
    price_cents: Int32 | None = Field(None, ge=0)
    active: bool | None = None


class CompanyOut(OutSchema):
    id: int
    name: str
    plan_id: int | None
    status: str
    timezone: str
    default_country: str
    created_at: UtcDateTime


class CompanyCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    plan_id: int | None = None
    timezone: Timezone = "UTC"
    default_country: str = Field("BR", min_length=2, max_length=2)


class CompanyUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    plan_id: int | None = None
    status: Literal["active", "suspended"] | None = None
    timezone: Timezone | None = None
    default_country: str | None = Field(None, min_length=2, max_length=2)


def existing_plan(plan_id: int | None) -> int | None:
    if plan_id is not None and not Plan.select().where(Plan.id == plan_id).exists():
        raise NotFound("plan")
    return plan_id


def apply_changes(row: peewee.Model, changes: dict) -> None:
    for name, value in changes.items():
        setattr(row, name, value)
    try:
        row.save()
    except peewee.IntegrityError:
        raise Conflict("a record with this name exists", {"name": "already taken"}) from None


@blueprint.get("/api/company")
@endpoint(summary="The caller's own company", tags=["companies"], response=CompanyOut)
def my_company():
    return CompanyOut.model_validate(Company.get_by_id(current_principal().company_id))


@blueprint.get("/api/companies")
@endpoint(summary="List every company", tags=["companies"], query=PageQuery, response=page_of(CompanyOut), roles=SUPER)
def list_companies(query: PageQuery):
    return paginate(Company.select().order_by(Company.id), query, lambda c: CompanyOut.model_validate(c).to_json())


@blueprint.post("/api/companies")
@endpoint(summary="Create a company", tags=["companies"], body=CompanyCreate, response=CompanyOut, status=201,
          roles=SUPER, errors=[404])
def create_company(body: CompanyCreate):
    company = Company.create(
        name=body.name, plan=existing_plan(body.plan_id), timezone=body.timezone, default_country=body.default_country.upper()
    )
    log_change("created", company)
    return CompanyOut.model_validate(company)


@blueprint.get("/api/companies/<int:company_id>")
@endpoint(summary="Show a company", tags=["companies"], response=CompanyOut, roles=SUPER, errors=[404])
def show_company(company_id: int):
    return CompanyOut.model_validate(get_or_404(Company, company_id))


@blueprint.patch("/api/companies/<int:company_id>")
@endpoint(summary="Change a company's plan, status or details", tags=["companies"], body=CompanyUpdate,
          response=CompanyOut, roles=SUPER, errors=[404])
def update_company(company_id: int, body: CompanyUpdate):
    company = get_or_404(Company, company_id)
    before = snapshot(company)
    changes = body.model_dump(exclude_unset=True)
    if "plan_id" in changes:
        changes["plan"] = existing_plan(changes.pop("plan_id"))
    apply_changes(company, changes)
    log_change("updated", company, before)
    if company.timezone != before["timezone"]:  # business hours are read in it: business-hours SLAs count others
        enqueue_retiming("company", company.id, company.id, current_principal().user_id)
    return CompanyOut.model_validate(company)


@blueprint.delete("/api/companies/<int:company_id>")
@endpoint(summary="Delete a company and everything it owns", tags=["companies"], status=204, roles=SUPER,
          errors=[403, 404])
def delete_company(company_id: int):
    company = get_or_404(Company, company_id)
    if company.id == current_principal().company_id:
        raise Conflict("you cannot delete your own company")
    log_change("deleted", company)
    company.delete_instance(recursive=True)


@blueprint.get("/api/plans")
@endpoint(summary="List plans", tags=["plans"], query=PageQuery, response=page_of(PlanOut), roles=SUPER)
def list_plans(query: PageQuery):
    return paginate(Plan.select().order_by(Plan.id), query, lambda p: PlanOut.model_validate(p).to_json())


@blueprint.post("/api/plans")
@endpoint(summary="Create a plan", tags=["plans"], body=PlanCreate, response=PlanOut, status=201, roles=SUPER,
          errors=[409])
def create_plan(body: PlanCreate):
    plan = Plan(**body.model_dump())
    apply_changes(plan, {})
    log_change("created", plan)
    return PlanOut.model_validate(plan)


@blueprint.get("/api/plans/<int:plan_id>")
@endpoint(summary="Show a plan", tags=["plans"], response=PlanOut, roles=SUPER, errors=[404])
def show_plan(plan_id: int):
    return PlanOut.model_validate(get_or_404(Plan, plan_id))


@blueprint.patch("/api/plans/<int:plan_id>")
@endpoint(summary="Change a plan's limits", tags=["plans"], body=PlanUpdate, response=PlanOut, roles=SUPER,
          errors=[404, 409])
def update_plan(plan_id: int, body: PlanUpdate):
    plan = get_or_404(Plan, plan_id)
    before = snapshot(plan)
    apply_changes(plan, body.model_dump(exclude_unset=True))
    log_change("updated", plan, before)
    return PlanOut.model_validate(plan)


@blueprint.delete("/api/plans/<int:plan_id>")
@endpoint(summary="Delete a plan (its companies keep running, without limits)", tags=["plans"], status=204,
          roles=SUPER, errors=[404])
def delete_plan(plan_id: int):
    plan = get_or_404(Plan, plan_id)
    log_change("deleted", plan)
    plan.delete_instance()
