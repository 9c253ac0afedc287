"""Automation rules, as Chatwoot's (db/automations.py, workers/automations.py): when a contact's message opens a ticket
or comes in on one, a ticket misses a target of its SLA policy or is closed, and the rule's conditions hold, its
actions are done on the ticket, with no agent clicking.

Conditions look at the message (its text, its type; a message's events only), the target missed (`sla_missed`
only), the contact (number, tags) and the ticket (connection, queue, whether an agent has it, whether its queue is
open now); actions are a macro's (reply, note, transfer, tags, priority, snooze, close), with `assign` for a waiting
ticket and `apply_sla` for an SLA policy's targets. What a rule names (tags, queues, agents, quick messages,
connections, SLA policies) is checked when it is saved: a 400 naming the condition or action. Admins and supervisors
write them, and programs with `tickets:write`; every change is in the audit log. `GET /:id/runs` is what the rule
did.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import peewee
from flask import Blueprint
from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import ValidationFailed
from api.pagination import paginate
from api.resources.campaigns import MANAGERS
from api.resources.contact_fields import CONTACT_FIELDS
from api.resources.macros import (
    CloseAction,
    FieldsAction,
    NoteAction,
    PriorityAction,
    SendMessageAction,
    SnoozeAction,
    TagsAction,
    TransferAction,
)
from api.resources.queues import owned_ids
from api.resources.ticket_fields import TICKET_FIELDS
from api.resources.tickets import WRITE_SCOPE
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.automations import AUTOMATION_EVENTS, MESSAGE_EVENTS, RUN_STATUSES, AutomationRule, AutomationRun
from db.base import holds
from db.connections import Connection
from db.contacts import Tag
from db.messages import MESSAGE_TYPES, QuickMessage
from db.queues import Queue
from db.sla import SLA_KINDS, SlaPolicy
from db.tickets import PRIORITIES, TICKET_STATUSES, SlaMiss
from db.users import User
from db.webhooks import Webhook
from wharf.custom_fields import ordered
from wharf.patterns import pattern_error

blueprint = Blueprint("automations", __name__, url_prefix="/api/automations")
Event = Literal[AUTOMATION_EVENTS]  # type: ignore[valid-type]
TEXT_OPERATORS = ("contains", "does_not_contain", "equals", "starts_with", "matches")
SET_OPERATORS = ("in", "not_in")
ORDER_OPERATORS = ("greater_than", "less_than")  # a custom field's number or date
FIELD_OPERATORS = ("equals", "contains", "does_not_contain", "starts_with", *ORDER_OPERATORS)
FIELDS = {"contact_field": CONTACT_FIELDS, "ticket_field": TICKET_FIELDS}  # the attributes that name a custom field
# Each attribute: the operators it takes, the type of its values, and for ids the records they name
ATTRIBUTES: dict[str, tuple[tuple[str, ...], type, type[peewee.Model] | None]] = {
    "body": (TEXT_OPERATORS, str, None),
    "phone": (("equals", "starts_with"), str, None),
    "message_type": (SET_OPERATORS, str, None),
    "connection_id": (SET_OPERATORS, int, Connection),
    "queue_id": (SET_OPERATORS, int, Queue),
    "contact_tag": (SET_OPERATORS, int, Tag),
    "ticket_tag": (SET_OPERATORS, int, Tag),
    "assigned": (("is",), bool, None),
    "open_now": (("is",), bool, None),
    "sla_target": (SET_OPERATORS, str, None),
    "contact_field": (FIELD_OPERATORS, str, None),
    "ticket_field": (FIELD_OPERATORS, str, None),
    "status": (SET_OPERATORS, str, None),
    "priority": (SET_OPERATORS, str, None),
}
# The values an attribute of words takes
WORDS = {"message_type": MESSAGE_TYPES, "sla_target": SLA_KINDS, "status": TICKET_STATUSES,
         "priority": (*PRIORITIES, "none")}
# The attributes only some events have: a message's, a miss's
EVENT_ATTRIBUTES = {"body": MESSAGE_EVENTS, "message_type": MESSAGE_EVENTS, "sla_target": ("sla_missed",)}
PHONE_PREFIX = re.compile(r"^\+?\d{1,15}$")


class AutomationCondition(Schema):
    key: str | None = Field(None, max_length=50, description="contact_field, ticket_field: the custom field's key (one "
                                                           "of the company's contact fields, or ticket fields)")
    attribute: Literal[tuple(ATTRIBUTES)] = Field(  # type: ignore[valid-type]
        description="body (the message's text or caption), phone (the contact's, E.164), message_type, "
                    "connection_id, queue_id (the ticket's), contact_tag (the contact's tags), ticket_tag (the "
                    "ticket's, as the rules before left them: a board lane too), assigned (an agent "
                    "has the ticket), open_now (the ticket's queue takes tickets now, by its hours; no queue: open), "
                    "sla_target (sla_missed: the target missed, first_response, next_response or resolution), "
                    "contact_field (the contact's custom field `key`, as text: a number as written, a boolean true "
                    "or false, none empty), ticket_field (the ticket's, likewise), status (the ticket's: pending, open, closed), priority (low, medium, high, urgent, "
                    "none); body and message_type on a message's events only")
    operator: Literal[TEXT_OPERATORS + SET_OPERATORS + ORDER_OPERATORS + ("is",)] = Field(  # type: ignore[valid-type]
        description="body: contains, does_not_contain, equals, starts_with (without case or accents), matches (a "
                    "regular expression, without case); contact_field, ticket_field: equals, contains, does_not_contain, "
                    "starts_with (without case or accents), greater_than, less_than (a number, or a date as "
                    "YYYY-MM-DD: \"score greater than 8\", \"renewal before 2027-01-01\"); phone: equals, starts_with; message_type, sla_target, "
                    "status, priority and the ids: in, not_in; assigned, open_now: is")
    values: list[Annotated[str, Field(max_length=200)] | int | bool] = Field(
        min_length=1, max_length=50, description="any of them (is: one boolean); texts up to 200 characters")

    @model_validator(mode="after")
    def fits(self) -> AutomationCondition:
        operators, kind, _ = ATTRIBUTES[self.attribute]
        if self.operator not in operators:
            raise ValueError(f"{self.attribute} takes the operators {', '.join(operators)}")
        if any(type(value) is not kind for value in self.values):
            raise ValueError(f"{self.attribute}'s values are {'booleans' if kind is bool else kind.__name__ + 's'}")
        if kind is bool and len(self.values) != 1:
            raise ValueError(f"{self.attribute} is true or false: one value")
        if kind is str and any(not value for value in self.values):
            raise ValueError("a value is not empty")
        if self.operator in ORDER_OPERATORS and any(ordered(value, value) is None for value in self.values):
            raise ValueError(f"{self.operator} compares a number, or a date as YYYY-MM-DD")
        if self.operator == "matches":
            for value in self.values:
                if (error := pattern_error(value)) is not None:
                    raise ValueError(f"{value!r} is not a regular expression: {error}")
        if self.attribute == "phone":
            if not all(PHONE_PREFIX.match(value) for value in self.values):
                raise ValueError("a phone, or its first digits, with the country code: +5511, +1")
            self.values = ["+" + value.lstrip("+") for value in self.values]
        if self.attribute in WORDS and (unknown := set(self.values) - set(WORDS[self.attribute])):
            raise ValueError(f"unknown {self.attribute} values {sorted(unknown)}: {', '.join(WORDS[self.attribute])}")
        if (self.key is not None) != (self.attribute in FIELDS):
            raise ValueError("contact_field and ticket_field name their field's `key`; other attributes take none")
        return self


class AssignAction(Schema):
    type: Literal["assign"]
    user_id: int = Field(description="the agent a waiting ticket goes to (for a ticket someone has: transfer)")


class ContactTagsAction(Schema):
    type: Literal["add_contact_tags", "remove_contact_tags"] = Field(description="the contact's tags (a campaign's "
                                                                                 "audience), not the ticket's")
    tag_ids: list[int] = Field(min_length=1, max_length=50)


class WebhookAction(Schema):
    type: Literal["webhook"]
    webhook_id: int = Field(description="one of the company's webhooks (enabled when the rule runs), sent an "
                                        "`automation:rule` event whatever events it receives: the rule, what ran it "
                                        "and the ticket as the rule left it")


class ApplySlaAction(Schema):
    type: Literal["apply_sla"]
    sla_policy_id: int = Field(description="the SLA policy the ticket must meet, from when it opened")


AutomationAction = Annotated[
    SendMessageAction | NoteAction | AssignAction | TransferAction | TagsAction | ContactTagsAction | PriorityAction
    | SnoozeAction | CloseAction | ApplySlaAction | WebhookAction | FieldsAction,
    Field(discriminator="type"),
]


class AutomationRuleFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=1000)
    event: Event | None = None
    match: Literal["all", "any"] | None = None
    conditions: list[AutomationCondition] | None = Field(None, max_length=20)
    actions: list[AutomationAction] | None = Field(None, min_length=1, max_length=20)
    active: bool | None = None


class AutomationRuleCreate(AutomationRuleFields):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=1000)
    event: Event = Field(description="ticket_created: a contact's message opens a ticket; message_received: any "
                                     "message of a contact (the first too); sla_missed: the ticket missed a target "
                                     "of its SLA policy (within a minute of its due time); ticket_closed: it was "
                                     "closed, by anyone (its reply goes out as a farewell does)")
    match: Literal["all", "any"] = Field("all", description="all the conditions must hold, or any of them")
    conditions: list[AutomationCondition] = Field([], max_length=20, description="none: every such event")
    actions: list[AutomationAction] = Field(min_length=1, max_length=20, description="done in this order")
    active: bool = True


class RunCounts(OutSchema):
    done: int
    failed: int
    last_run_at: UtcDateTime | None


class AutomationRuleOut(OutSchema):
    id: int
    name: str
    description: str
    event: Event
    match: Literal["all", "any"]
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    active: bool
    runs: RunCounts = Field(description="how often it ran: done, failed (its GET /:id/runs say why), and when last")
    created_at: UtcDateTime
    updated_at: UtcDateTime


class AutomationRuleQuery(PageQuery):
    search: str | None = Field(None, max_length=100)
    event: Event | None = None
    active: bool | None = None


class AutomationRunQuery(PageQuery):
    status: Literal[RUN_STATUSES] | None = None  # type: ignore[valid-type]
    ticket_id: int | None = None


class AutomationRunOut(OutSchema):
    id: int
    ticket_id: int
    message_id: int | None = Field(description="the message of a message's event")
    sla_target: str | None = Field(description="sla_missed: the target missed, first_response, next_response or "
                                               "resolution")
    closing_id: int | None = Field(description="ticket_closed: the closing, a line of the ticket's history")
    status: Literal[RUN_STATUSES]  # type: ignore[valid-type]
    failed_action: int | None = Field(description="the action that could not be done, its place from 0; those "
                                                  "before it were done, those after it not")
    error: str | None
    created_at: UtcDateTime


def run_counts(rule_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each rule's runs done and failed, and when it last ran, in one query (a rule that never ran is missing)."""
    def of_status(status: str) -> peewee.Function:
        return peewee.fn.SUM(peewee.Case(None, [(AutomationRun.status == status, 1)], 0)).alias(status)

    last = peewee.fn.MAX(AutomationRun.created_at).python_value(AutomationRun.created_at.python_value)
    rows = (AutomationRun.select(AutomationRun.rule, of_status("done"), of_status("failed"), last.alias("last_run_at"))
            .where(AutomationRun.rule.in_(rule_ids)).group_by(AutomationRun.rule))
    return {row.rule_id: {"done": int(row.done), "failed": int(row.failed), "last_run_at": row.last_run_at}
            for row in rows}


class RuleJson:
    """A rule as JSON, with its run counts; a page of them at once (`api.pagination.paginate`), counted in one
    query."""

    def __call__(self, rule: AutomationRule) -> dict[str, Any]:
        return self.page([rule])[0]

    def page(self, rules: list[AutomationRule]) -> list[dict[str, Any]]:
        counts, never = run_counts([rule.id for rule in rules]), {"done": 0, "failed": 0, "last_run_at": None}
        return [AutomationRuleOut.model_validate({**rule.__data__, "runs": counts.get(rule.id, never)}).to_json()
                for rule in rules]


rule_json = RuleJson()


def check_event_has(event: str, conditions: list[dict]) -> None:
    """Each condition's attribute is one the event has (a 400 naming the condition otherwise)."""
    for index, condition in enumerate(conditions):
        if event not in EVENT_ATTRIBUTES.get(condition["attribute"], (event,)):
            raise ValidationFailed(f"a rule of {event} has no {condition['attribute']}",
                                   {f"conditions[{index}].attribute": f"not on {event}"})


def stored_conditions(conditions: list[AutomationCondition]) -> list[dict]:
    """The conditions as kept: the ids and custom fields they name the company's (a 400 naming the condition
    otherwise)."""
    for index, condition in enumerate(conditions):
        if model := ATTRIBUTES[condition.attribute][2]:
            owned_ids(model, condition.values, f"conditions[{index}].values")
        if condition.key is not None:
            FIELDS[condition.attribute].known(condition.key, f"conditions[{index}].key")
    return [condition.model_dump(mode="json", exclude_none=True) for condition in conditions]


# What an action names, by its field: the model of those records
NAMED = {"quick_message_id": QuickMessage, "queue_id": Queue, "user_id": User, "tag_ids": Tag,
         "mentioned_user_ids": User, "sla_policy_id": SlaPolicy, "webhook_id": Webhook}


def stored_actions(actions: list[Any]) -> list[dict]:
    """The actions as kept, each with only the fields it was given: what they name the company's (a 400 naming the
    action's field otherwise; checked again when they run, and one deleted since fails the run there)."""
    for index, action in enumerate(actions):
        for field, model in NAMED.items():
            value = getattr(action, field, None)
            if value is not None:
                owned_ids(model, value if isinstance(value, list) else [value],
                          f"actions[{index}].{to_camel(field)}")
        if action.type == "custom_fields":
            try:
                TICKET_FIELDS.checked(current_principal().company_id, action.custom_fields)
            except ValidationFailed as error:
                raise ValidationFailed(error.message, {f"actions[{index}].{key}": why
                                                       for key, why in error.details.items()}) from None
    return [action.model_dump(mode="json", by_alias=True, exclude_unset=True) for action in actions]


@blueprint.get("")
@endpoint(summary="The company's automation rules", tags=["automations"], query=AutomationRuleQuery,
          response=page_of(AutomationRuleOut), roles=MANAGERS, scope=WRITE_SCOPE)
def list_rules(query: AutomationRuleQuery):
    rules = owned(AutomationRule).order_by(AutomationRule.id)
    if query.search:
        rules = rules.where(holds(query.search, AutomationRule.name))
    if query.event:
        rules = rules.where(AutomationRule.event == query.event)
    if query.active is not None:
        rules = rules.where(AutomationRule.active == query.active)
    return paginate(rules, query, rule_json)


@blueprint.post("")
@endpoint(summary="Save an automation rule: from now on, each such event whose conditions hold runs its actions",
          tags=["automations"], body=AutomationRuleCreate, response=AutomationRuleOut, status=201, roles=MANAGERS, scope=WRITE_SCOPE)
def create_rule(body: AutomationRuleCreate):
    conditions = stored_conditions(body.conditions)
    check_event_has(body.event, conditions)
    rule = AutomationRule.create(
        company=current_principal().company_id, name=body.name, description=body.description, event=body.event,
        match=body.match, conditions=conditions, actions=stored_actions(body.actions), active=body.active)
    log_change("created", rule)
    return rule_json(rule)


@blueprint.get("/<int:rule_id>")
@endpoint(summary="An automation rule", tags=["automations"], response=AutomationRuleOut, errors=[404], roles=MANAGERS,
          scope=WRITE_SCOPE)
def show_rule(rule_id: int):
    return rule_json(get_owned(AutomationRule, rule_id, "automation rule"))


@blueprint.patch("/<int:rule_id>")
@endpoint(summary="Change an automation rule (`active: false` pauses it)", tags=["automations"], body=AutomationRuleFields,
          response=AutomationRuleOut, errors=[404], roles=MANAGERS, scope=WRITE_SCOPE)
def update_rule(rule_id: int, body: AutomationRuleFields):
    rule = get_owned(AutomationRule, rule_id, "automation rule")
    before = snapshot(rule)
    changes = body.changes(not_null={"name", "description", "event", "match", "conditions", "actions", "active"})
    if "conditions" in changes:
        changes["conditions"] = stored_conditions(body.conditions)
    if "actions" in changes:
        changes["actions"] = stored_actions(body.actions)
    for field, value in changes.items():
        setattr(rule, field, value)
    check_event_has(rule.event, rule.conditions)
    rule.save()
    log_change("updated", rule, before)
    return rule_json(rule)


@blueprint.delete("/<int:rule_id>")
@endpoint(summary="Delete an automation rule and its runs", tags=["automations"], status=204, errors=[404],
          roles=MANAGERS, scope=WRITE_SCOPE)
def delete_rule(rule_id: int):
    rule = get_owned(AutomationRule, rule_id, "automation rule")
    log_change("deleted", rule)
    rule.delete_instance()
    return "", 204


@blueprint.get("/<int:rule_id>/runs")
@endpoint(summary="What the rule did, newest first: one run per message, SLA miss or closing it applied to, `failed` with "
                  "the action that could not be done and why", tags=["automations"], query=AutomationRunQuery, response=page_of(AutomationRunOut),
          errors=[404], roles=MANAGERS, scope=WRITE_SCOPE)
def list_runs(rule_id: int, query: AutomationRunQuery):
    rule = get_owned(AutomationRule, rule_id, "automation rule")
    runs = (AutomationRun.select(AutomationRun, SlaMiss.id, SlaMiss.kind).join(SlaMiss, peewee.JOIN.LEFT_OUTER)
            .where(AutomationRun.rule == rule.id).order_by(AutomationRun.id.desc()))
    if query.status:
        runs = runs.where(AutomationRun.status == query.status)
    if query.ticket_id is not None:
        runs = runs.where(AutomationRun.ticket == query.ticket_id)
    return paginate(runs, query, lambda run: AutomationRunOut.model_validate(run).to_json())
