"""SLA policies, as Chatwoot's (db/sla.py): how soon a ticket must get its first answer, each next answer, and be
resolved.

Everyone reads them (an agent sees a ticket's targets); admins, supervisors and programs with `tickets:write` write
them, every change audited. A policy is applied to a ticket by `PATCH /api/tickets/:id {slaPolicyId}` or by an
automation rule's `apply_sla` action; a policy whose targets or clock change re-times its live tickets (a job:
`retime_sla_tickets`), and a deleted one leaves its tickets without targets (their misses stay in their history).
"""

from __future__ import annotations

import peewee
from flask import Blueprint
from pydantic import Field

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import Conflict, ValidationFailed
from api.pagination import paginate
from api.resources.campaigns import MANAGERS
from api.resources.tickets import READ_SCOPE, WRITE_SCOPE
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import database
from db.sla import SlaPolicy
from db.tickets import SLA_TIMES, Ticket
from workers.sla import enqueue_retiming

blueprint = Blueprint("sla_policies", __name__, url_prefix="/api/sla-policies")
A_YEAR_OF_MINUTES = 366 * 24 * 60
TIMING = ("first_response_minutes", "next_response_minutes", "resolution_minutes", "business_hours_only")


class SlaPolicyFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=1000)
    first_response_minutes: int | None = Field(None, ge=1, le=A_YEAR_OF_MINUTES, description="the first answer to a "
                                               "contact who wrote first, within this many minutes of the ticket "
                                               "opening; null: no such target")
    next_response_minutes: int | None = Field(None, ge=1, le=A_YEAR_OF_MINUTES, description="each later answer: "
                                              "within this many minutes of the contact's first message since our "
                                              "agents' last answer; null: no such target")
    resolution_minutes: int | None = Field(None, ge=1, le=A_YEAR_OF_MINUTES, description="closed within this many "
                                           "minutes of opening; null: no such target")
    business_hours_only: bool | None = Field(None, description="the minutes count only while the ticket's queue is "
                                             "open (its business hours and special days, in the company's "
                                             "timezone; a ticket moved to another queue is re-timed by that "
                                             "queue's hours); a ticket in no queue, or in one without hours, "
                                             "counts calendar time")


class SlaPolicyCreate(SlaPolicyFields):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=1000)
    business_hours_only: bool = False


class SlaPolicyOut(OutSchema):
    id: int
    name: str
    description: str
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    business_hours_only: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime


def policy_json(policy: SlaPolicy) -> dict:
    return SlaPolicyOut.model_validate(policy).to_json()


def saved(policy: SlaPolicy) -> SlaPolicy:
    """A policy without a target is a 400; a name another policy of the company has, a 409."""
    if policy.first_response_minutes is None and policy.next_response_minutes is None and \
            policy.resolution_minutes is None:
        raise ValidationFailed("a policy has a target", {
            "firstResponseMinutes": "or nextResponseMinutes or resolutionMinutes, not none"})
    try:
        with database.atomic():
            policy.save()
    except peewee.IntegrityError:
        raise Conflict("an SLA policy with this name exists", {"name": "already taken"}) from None
    return policy


@blueprint.get("")
@endpoint(summary="The company's SLA policies", tags=["sla"], query=PageQuery, response=page_of(SlaPolicyOut),
          scope=(READ_SCOPE, WRITE_SCOPE))
def list_policies(query: PageQuery):
    return paginate(owned(SlaPolicy).order_by(SlaPolicy.name, SlaPolicy.id), query, policy_json)


@blueprint.post("")
@endpoint(summary="Save an SLA policy", tags=["sla"], body=SlaPolicyCreate, response=SlaPolicyOut, status=201,
          errors=[409], roles=MANAGERS, scope=WRITE_SCOPE)
def create_policy(body: SlaPolicyCreate):
    policy = saved(SlaPolicy(company=current_principal().company_id, **body.model_dump()))
    log_change("created", policy)
    return policy_json(policy)


@blueprint.get("/<int:policy_id>")
@endpoint(summary="An SLA policy", tags=["sla"], response=SlaPolicyOut, errors=[404], scope=(READ_SCOPE, WRITE_SCOPE))
def show_policy(policy_id: int):
    return policy_json(get_owned(SlaPolicy, policy_id, "SLA policy"))


@blueprint.patch("/<int:policy_id>")
@endpoint(summary="Change an SLA policy (new targets or clock re-time its live tickets within seconds)", tags=["sla"],
          body=SlaPolicyFields, response=SlaPolicyOut, errors=[404, 409], roles=MANAGERS, scope=WRITE_SCOPE)
def update_policy(policy_id: int, body: SlaPolicyFields):
    policy = get_owned(SlaPolicy, policy_id, "SLA policy")
    before = snapshot(policy)
    changes = body.changes(not_null={"name", "description", "business_hours_only"})
    timing = [field for field in TIMING if field in changes and changes[field] != getattr(policy, field)]
    for field, value in changes.items():
        setattr(policy, field, value)
    saved(policy)
    log_change("updated", policy, before)
    if timing:
        enqueue_retiming("policy", policy.id, policy.company_id, current_principal().user_id)
    return policy_json(policy)


@blueprint.delete("/<int:policy_id>")
@endpoint(summary="Delete an SLA policy: its live tickets lose their targets", tags=["sla"], status=204,
          errors=[404], roles=MANAGERS, scope=WRITE_SCOPE)
def delete_policy(policy_id: int):
    policy = get_owned(SlaPolicy, policy_id, "SLA policy")
    log_change("deleted", policy)
    with database.atomic():
        Ticket.update({field: None for field in SLA_TIMES}).where(
            Ticket.sla_policy == policy.id, Ticket.status != "closed").execute()
        policy.delete_instance()
    return "", 204
