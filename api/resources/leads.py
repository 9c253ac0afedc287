"""Leads: CRUD, filters, search, sort and pages, and a streamed CSV export of the same filters.

Every user of the company works on its leads; a sub-user only as far as their lead permissions
go (view, add, edit: `users.granted`). Programs use API keys with `leads:read` / `leads:write`.
Changes are announced as `lead:new`, `lead:update` and `lead:delete` (realtime and webhooks).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any, Literal

import peewee
from flask import Blueprint
from pydantic import BeforeValidator, EmailStr, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from api.csv_export import csv_download
from api.endpoint import endpoint
from api.errors import Conflict, Forbidden, ValidationFailed
from api.pagination import paginate
from api.resources.queues import owned_ids
from api.resources.users import granted
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, UtcDateTimeIn, iso_utc, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import holds, in_id_batches, utcnow
from db.companies import Company
from db.contacts import Contact
from db.leads import LEAD_CATEGORIES, LEAD_SOURCES, LEAD_STATUSES, Lead
from db.users import User
from wharf.phones import InvalidPhone, to_e164
from workers.events import announcing

blueprint = Blueprint("leads", __name__, url_prefix="/api/leads")

LeadStatus = Literal[LEAD_STATUSES]  # type: ignore[valid-type]
LeadSource = Literal[LEAD_SOURCES]  # type: ignore[valid-type]
LeadCategory = Literal[LEAD_CATEGORIES]  # type: ignore[valid-type]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
MoneyOut = Annotated[Decimal, PlainSerializer(float, return_type=float)]
NULLABLE = frozenset({"phone", "email", "next_follow_up_at", "owner_id", "contact_id"})
SORTABLE = {
    "createdAt": Lead.created_at,
    "updatedAt": Lead.updated_at,
    "name": Lead.name,
    "value": Lead.value,
    "status": Lead.status,
    "nextFollowUpAt": Lead.next_follow_up_at,
}
Sort = Literal[tuple(f"{direction}{key}" for key in SORTABLE for direction in ("", "-"))]  # type: ignore[valid-type]


def comma_separated(value: Any) -> Any:
    """`status=new,won` and `status=new&status=won` alike."""
    items = value if isinstance(value, list) else [value]
    return [part for item in items for part in str(item).split(",") if part]


class LeadFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    phone: str | None = Field(None, max_length=40, description="any form; stored as E.164 (company's default country)")
    email: EmailStr | None = None
    company_name: str | None = Field(None, max_length=200)
    status: LeadStatus | None = None
    source: LeadSource | None = None
    category: LeadCategory | None = None
    value: Money | None = None
    notes: str | None = Field(None, max_length=20000)
    next_follow_up_at: UtcDateTimeIn | None = None
    owner_id: int | None = Field(None, description="a user of the company; the creator when not given")
    contact_id: int | None = Field(None, description="a contact of the company; the one with the phone when not given")


class LeadCreate(LeadFields):
    name: str = Field(min_length=1, max_length=200)


class LeadOut(OutSchema):
    id: int
    name: str
    phone: str | None
    email: str | None
    company_name: str
    status: str
    source: str
    category: str
    value: MoneyOut
    notes: str
    next_follow_up_at: UtcDateTime | None
    owner_id: int | None
    contact_id: int | None
    created_by_id: int | None
    won_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class LeadFilters(PageQuery):
    search: str | None = Field(None, max_length=200,
                               description="name, phone, e-mail or company name, ignoring case and accents")
    status: Annotated[list[LeadStatus], BeforeValidator(comma_separated)] | None = None
    source: Annotated[list[LeadSource], BeforeValidator(comma_separated)] | None = None
    category: Annotated[list[LeadCategory], BeforeValidator(comma_separated)] | None = None
    owner_id: int | None = None
    contact_id: int | None = None
    follow_up_due: bool | None = Field(None, description="true: the next follow-up is due now or overdue")
    created_after: UtcDateTimeIn | None = None
    created_before: UtcDateTimeIn | None = None
    sort: Sort = Field("-createdAt", description="a field, with - for descending")


def lead_json(lead: Lead) -> dict:
    return LeadOut.model_validate(lead).to_json()


def require(action: Literal["view", "add", "edit"]) -> None:
    """403 for a sub-user whose lead permissions do not include `action` (a program's scope was checked)."""
    user = current_principal().user
    if user is not None and not granted(user, "leads", action):
        raise Forbidden(f"your account may not {action} leads", "missing_permission", {"permission": f"leads.{action}"})


def filtered(query: LeadFilters) -> peewee.ModelSelect:
    leads = owned(Lead)
    for field, values in ((Lead.status, query.status), (Lead.source, query.source), (Lead.category, query.category)):
        if values:
            leads = leads.where(field.in_(values))
    if query.owner_id is not None:
        leads = leads.where(Lead.owner == query.owner_id)
    if query.contact_id is not None:
        leads = leads.where(Lead.contact == query.contact_id)
    if query.follow_up_due is not None:
        due = Lead.next_follow_up_at <= utcnow()
        leads = leads.where(due if query.follow_up_due else (Lead.next_follow_up_at.is_null() | ~due))
    if query.created_after is not None:
        leads = leads.where(Lead.created_at >= query.created_after)
    if query.created_before is not None:
        leads = leads.where(Lead.created_at < query.created_before)
    if query.search:
        leads = leads.where(holds(query.search, Lead.name, Lead.phone, Lead.email, Lead.company_name))
    return leads


def sorted_by(leads: peewee.ModelSelect, sort: str) -> peewee.ModelSelect:
    field = SORTABLE[sort.lstrip("-")]
    order = field.desc(nulls="LAST") if sort.startswith("-") else field.asc(nulls="LAST")
    return leads.order_by(order, Lead.id.desc() if sort.startswith("-") else Lead.id)


def normal_phone(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return to_e164(raw, Company.get_by_id(current_principal().company_id).default_country)
    except InvalidPhone as error:
        raise ValidationFailed("the phone is not a valid number", {"phone": str(error)}) from None


def apply_changes(lead: Lead, body: LeadFields) -> None:
    """Set the fields sent on `lead`, validated against the company's records; nothing is saved."""
    changes = body.model_dump(exclude_unset=True)
    if nulls := sorted(name for name, value in changes.items() if value is None and name not in NULLABLE):
        raise ValidationFailed("these fields cannot be null", {to_camel(name): "may not be null" for name in nulls})
    if "phone" in changes:
        changes["phone"] = normal_phone(changes["phone"])
    if changes.get("email"):
        changes["email"] = changes["email"].lower()
    if changes.get("owner_id") is not None:
        owned_ids(User, [changes["owner_id"]], "ownerId")
    if changes.get("contact_id") is not None:
        owned_ids(Contact, [changes["contact_id"]], "contactId")
    if "status" in changes and changes["status"] != lead.status:
        lead.won_at = utcnow() if changes["status"] == "won" else None
    for name, value in changes.items():
        setattr(lead, name, value)


def save_unique(lead: Lead, event: str) -> dict:
    """Save, announced as `event` (its webhooks commit with it); the lead's JSON. 409 when another lead of
    the company has the phone."""
    if lead.phone is not None:
        others = owned(Lead).where(Lead.phone == lead.phone)
        other = (others if lead.id is None else others.where(Lead.id != lead.id)).first()
        if other is not None:
            raise Conflict("another lead has this phone", {"phone": f"already lead {other.id}"})
    try:
        with announcing() as announcements:
            lead.save()
            body = lead_json(lead)
            announcements.add(event, lead.company_id, body)
    except peewee.IntegrityError:  # a concurrent request took the phone
        raise Conflict("another lead has this phone", {"phone": "already a lead"}) from None
    return body


@blueprint.get("")
@endpoint(summary="List leads: filters, search, sort and pages", tags=["leads"], query=LeadFilters,
          response=page_of(LeadOut), errors=[403], scope="leads:read")
def list_leads(query: LeadFilters):
    require("view")
    return paginate(sorted_by(filtered(query), query.sort), query, lead_json)


@blueprint.get("/export")
@endpoint(summary="The leads of the list's filters as a CSV download (streamed in id order; no pages)", tags=["leads"],
          query=LeadFilters, errors=[403], scope="leads:read")
def export_leads(query: LeadFilters):
    require("view")
    columns = [key for key in LeadOut.model_json_schema(by_alias=True)["properties"]]

    def rows() -> Iterator[list[Any]]:
        for batch in in_id_batches(filtered(query)):
            for lead in batch:
                values = lead_json(lead)
                yield [values[column] for column in columns]

    return csv_download(f"leads-{iso_utc(utcnow())[:10]}.csv", columns, rows())


@blueprint.post("")
@endpoint(summary="Create a lead", tags=["leads"], body=LeadCreate, response=LeadOut, status=201,
          errors=[403, 409], scope="leads:write")
def create_lead(body: LeadCreate):
    require("add")
    principal = current_principal()
    user_id = principal.user.id if principal.user else None
    lead = Lead(company=principal.company_id, created_by=user_id, owner=user_id)
    apply_changes(lead, body)
    if body.contact_id is None and lead.phone is not None:
        lead.contact = owned(Contact).select(Contact.id).where(Contact.phone == lead.phone).scalar()
    return save_unique(lead, "lead:new")


@blueprint.get("/<int:lead_id>")
@endpoint(summary="Show a lead", tags=["leads"], response=LeadOut, errors=[403, 404], scope="leads:read")
def show_lead(lead_id: int):
    require("view")
    return lead_json(get_owned(Lead, lead_id, "lead"))


@blueprint.patch("/<int:lead_id>")
@endpoint(summary="Change a lead (null clears phone, e-mail, follow-up, owner and contact)", tags=["leads"],
          body=LeadFields, response=LeadOut, errors=[403, 404, 409], scope="leads:write")
def update_lead(lead_id: int, body: LeadFields):
    require("edit")
    lead = get_owned(Lead, lead_id, "lead")
    apply_changes(lead, body)
    return save_unique(lead, "lead:update")


@blueprint.delete("/<int:lead_id>")
@endpoint(summary="Delete a lead", tags=["leads"], status=204, errors=[403, 404], scope="leads:write")
def delete_lead(lead_id: int):
    require("edit")
    lead = get_owned(Lead, lead_id, "lead")
    body = lead_json(lead)
    with announcing() as announcements:
        lead.delete_instance()
        announcements.add("lead:delete", lead.company_id, body)
