"""Flows (chatbots): drafts, publishing, versions, starting one for a contact, sessions, and a dry run.

A flow is saved as a draft, checked on every save (400 naming the node at fault); publishing freezes
the draft as the next version, which new sessions run (running ones finish on theirs). Starting a
flow writes the session and enqueues its first steps (202); the dry run walks the draft, or a
version, with scripted answers and sends nothing.
"""

from __future__ import annotations

from typing import Any, Literal

import peewee
from flask import Blueprint
from pydantic import Field, model_validator

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import ApiError, Conflict, NotFound, ValidationFailed
from api.pagination import paginate
from api.resources.messages import pick_connection
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import database, holds, utcnow
from db.campaigns import Campaign
from db.companies import Company
from db.connections import Connection
from db.contacts import Contact
from db.flows import LIVE_STATUSES, SESSION_STATUSES, Flow, FlowSession, FlowStep, FlowVersion
from db.messages import QuickMessage
from db.opt_outs import is_opted_out
from db.queues import Queue
from db.tickets import find_or_open_ticket
from db.users import User
from wharf.phones import InvalidPhone, to_e164
from workers.flows.definition import TRIGGER_TYPES, InvalidFlow, validate_definition
from workers.flows.dry_run import TranscriptEffects, dry_run
from workers.flows.engine import (
    advance_flow_session,
    create_session,
    initial_variables,
    keywords_of,
    stop_session,
)
from workers.flows.queue_menu import queue_menu_definition
from workers.inbound import upsert_contact
from workers.jobs import enqueue_job

blueprint = Blueprint("flows", __name__, url_prefix="/api/flows")
MANAGERS = ("super", "admin", "supervisor")
RUN_SCOPE, WRITE_SCOPE = "flows:run", "flows:write"  # programs: start flows; build and publish them
Variables = dict[str, str | int | float | bool | None]


class FlowFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    trigger: dict[str, Any] | None = Field(
        None,
        description='{"type": "keyword|regex|new_ticket|campaign_reply|api", '
        '"value"?, "connectionId"?, "queueId"?, "campaignId"?}',
    )
    nodes: list[dict[str, Any]] | None = Field(None, max_length=500)
    edges: list[dict[str, Any]] | None = Field(None, max_length=2000)
    active: bool | None = Field(None, description="an inactive flow's trigger starts nothing")


class FlowCreate(FlowFields):
    name: str = Field(min_length=1, max_length=200)
    trigger: dict[str, Any] = Field(default_factory=lambda: {"type": "api"})
    nodes: list[dict[str, Any]] = Field(min_length=1, max_length=500)
    edges: list[dict[str, Any]] = Field(default_factory=list, max_length=2000)


class FlowOut(OutSchema):
    id: int
    name: str
    trigger: dict
    nodes: list[dict]
    edges: list[dict]
    active: bool
    published_version: int | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class FlowQuery(PageQuery):
    search: str | None = Field(None, max_length=100)
    trigger: Literal[TRIGGER_TYPES] | None = None  # type: ignore[valid-type]


class VersionOut(OutSchema):
    version: int
    trigger: dict
    nodes: list[dict]
    edges: list[dict]
    published_by_id: int | None
    published_at: UtcDateTime


class FlowStartIn(Schema):
    contact_id: int | None = None
    to: str | None = Field(
        None, max_length=32, description="a phone, when no contactId; the contact is created"
    )
    connection_id: int | None = Field(None, description="default: the company's default connection")
    variables: Variables = Field(default_factory=dict, max_length=100)

    @model_validator(mode="after")
    def one_recipient(self) -> FlowStartIn:
        if (self.contact_id is None) == (self.to is None):
            raise ValueError("give either contactId or to")
        return self


class FlowSessionOut(OutSchema):
    id: int
    flow_id: int
    version: int
    ticket_id: int
    contact_id: int
    connection_id: int | None
    trigger: str
    status: str
    node: str | None
    waiting: str | None
    wait_until: UtcDateTime | None
    variables: dict
    step_seq: int = Field(serialization_alias="steps")
    end_reason: str | None
    created_at: UtcDateTime
    ended_at: UtcDateTime | None


class SessionStarted(FlowSessionOut):
    job_id: str


class StepOut(OutSchema):
    seq: int
    node: str
    node_type: str
    event: dict | None
    effects: list
    created_at: UtcDateTime


class SessionDetail(FlowSessionOut):
    steps_log: list[StepOut]


class SessionQuery(PageQuery):
    flow_id: int | None = None
    status: Literal[(*SESSION_STATUSES, "live")] | None = None  # type: ignore[valid-type]
    ticket_id: int | None = None
    contact_id: int | None = None


class DryRunIn(Schema):
    answers: list[str] = Field(
        default_factory=list, max_length=200, description="what the contact says, in order"
    )
    variables: Variables = Field(default_factory=dict, max_length=100)
    contact_id: int | None = Field(
        None, description="read tags and fields of this contact (nothing is changed)"
    )
    version: int | None = Field(None, description="a published version; default: the draft")
    outcomes: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description='per HTTP or AI node id: {"ok", "status", "saved", "text", "error"}'
    )


class DryRunOut(OutSchema):
    transcript: list[dict]
    status: str
    end_reason: str | None
    node: str | None
    steps: int
    unused_answers: list[str]
    variables: dict


def flow_json(flow: Flow) -> dict:
    definition = flow.definition or {}
    return FlowOut.model_validate(
        {
            "id": flow.id,
            "name": flow.name,
            "trigger": definition.get("trigger", {}),
            "nodes": definition.get("nodes", []),
            "edges": definition.get("edges", []),
            "active": flow.active,
            "published_version": flow.published_version,
            "created_at": flow.created_at,
            "updated_at": flow.updated_at,
        }
    ).to_json()


def version_json(version: FlowVersion) -> dict:
    return VersionOut.model_validate(
        {
            **version.definition,
            "version": version.version,
            "published_by_id": version.published_by_id,
            "published_at": version.published_at,
        }
    ).to_json()


def session_json(session: FlowSession, **extra: Any) -> dict:
    schema = SessionStarted if "job_id" in extra else SessionDetail if "steps_log" in extra else FlowSessionOut
    return schema.model_validate(
        {
            **{name: getattr(session, name) for name in FlowSessionOut.model_fields if name != "version"},
            "flow_id": session.flow_id,
            "ticket_id": session.ticket_id,
            "contact_id": session.contact_id,
            "connection_id": session.connection_id,
            "version": session.version.version,
            **extra,
        }
    ).to_json()


REFERENCES = (
    ("queueId", Queue, "queue"),
    ("userId", User, "user"),
    ("connectionId", Connection, "connection"),
    ("campaignId", Campaign, "campaign"),
    ("quickMessageId", QuickMessage, "quick message"),
)


def check_references(definition: dict, company_id: int) -> None:
    """Ids in the trigger and the nodes must be the company's own (400 naming where)."""
    places = [("trigger", definition["trigger"])] + [
        (f"nodes.{node['id']}", node) for node in definition["nodes"]
    ]
    places += [
        (f"nodes.{node['id']}.rules.{n}", rule)
        for node in definition["nodes"]
        for n, rule in enumerate(node.get("rules") or [])
        if isinstance(rule, dict)
    ]
    for where, place in places:
        for field, model, what in REFERENCES:
            value = place.get(field)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not model.select().where(model.id == value, model.company == company_id).exists()
            ):
                raise ValidationFailed(
                    f"{where}: no {what} {value!r} in this company", {f"{where}.{field}": "not found"}
                )


def checked_definition(trigger: dict, nodes: list, edges: list) -> dict:
    try:
        definition = validate_definition({"trigger": trigger, "nodes": nodes, "edges": edges})
    except InvalidFlow as error:
        raise ValidationFailed(f"the flow is not valid: {error}", error.details) from None
    check_references(definition, current_principal().company_id)
    return definition


def refuse_keyword_clash(flow: Flow, trigger: dict[str, Any]) -> None:
    """409 when another active, published flow starts on one of this keyword trigger's words on the same
    connections: the contact would get whichever is older, not what its author meant."""
    if trigger["type"] != "keyword":
        return
    words = keywords_of(trigger)
    others = (FlowVersion.select(FlowVersion, Flow).join(Flow)
              .where(Flow.company == flow.company_id, Flow.id != flow.id, Flow.active, Flow.trigger_type == "keyword",
                     FlowVersion.version == Flow.published_version).order_by(Flow.id))
    for other in others:
        theirs = other.definition["trigger"]
        if None not in (trigger.get("connectionId"), theirs.get("connectionId")) and \
                trigger["connectionId"] != theirs["connectionId"]:
            continue
        if shared := sorted(words & keywords_of(theirs)):
            raise Conflict(f"the published flow {other.flow.id} ({other.flow.name}) already starts on "
                           f"{', '.join(shared)}", {"trigger.value": f"taken by flow {other.flow.id}"})


def save_flow(flow: Flow, body: FlowFields) -> None:
    current = flow.definition or {}
    flow.definition = checked_definition(
        body.trigger if body.trigger is not None else current.get("trigger", {"type": "api"}),
        body.nodes if body.nodes is not None else current.get("nodes", []),
        body.edges if body.edges is not None else current.get("edges", []),
    )
    if body.name is not None:
        flow.name = body.name
    if body.active and not flow.active and flow.published_version is not None:
        published = FlowVersion.get(FlowVersion.flow == flow.id, FlowVersion.version == flow.published_version)
        refuse_keyword_clash(flow, published.definition["trigger"])
    if body.active is not None:
        flow.active = body.active
    flow.save()


@blueprint.get("")
@endpoint(summary="List the company's flows", tags=["flows"], query=FlowQuery, response=page_of(FlowOut),
          scope=(WRITE_SCOPE, RUN_SCOPE))
def list_flows(query: FlowQuery):
    flows = owned(Flow).order_by(Flow.id)
    if query.search:
        flows = flows.where(holds(query.search, Flow.name))
    if query.trigger:
        flows = flows.where(Flow.trigger_type == query.trigger)
    return paginate(flows, query, flow_json)


@blueprint.post("")
@endpoint(
    summary="Create a flow (a draft until published); 400 names the node at fault",
    tags=["flows"],
    scope=WRITE_SCOPE,
    body=FlowCreate,
    response=FlowOut,
    status=201,
    roles=MANAGERS,
)
def create_flow(body: FlowCreate):
    flow = Flow(company=current_principal().company_id)
    save_flow(flow, body)
    log_change("created", flow)
    return flow_json(flow)


@blueprint.post("/from-queue/<int:queue_id>")
@endpoint(
    summary="A draft flow doing what the queue's greeting and menu do (publish it to take over and extend it)",
    tags=["flows"],
    scope=WRITE_SCOPE,
    response=FlowOut,
    status=201,
    roles=MANAGERS,
    errors=[404],
)
def flow_from_queue(queue_id: int):
    queue = get_owned(Queue, queue_id, "queue")
    flow = Flow(company=current_principal().company_id, name=f"Menu: {queue.name}")
    flow.definition = checked_definition(**queue_menu_definition(queue))
    flow.save()
    log_change("created", flow)
    return flow_json(flow)


@blueprint.get("/<int:flow_id>")
@endpoint(summary="Show a flow's draft", tags=["flows"], response=FlowOut, errors=[404],
          scope=(WRITE_SCOPE, RUN_SCOPE))
def show_flow(flow_id: int):
    return flow_json(get_owned(Flow, flow_id, "flow"))


@blueprint.patch("/<int:flow_id>")
@endpoint(
    summary="Change a flow's draft (publish to put it to work)",
    tags=["flows"],
    scope=WRITE_SCOPE,
    body=FlowFields,
    response=FlowOut,
    roles=MANAGERS,
    errors=[404, 409],
)
def update_flow(flow_id: int, body: FlowFields):
    flow = get_owned(Flow, flow_id, "flow")
    before = snapshot(flow)
    save_flow(flow, body)
    log_change("updated", flow, before)
    return flow_json(flow)


@blueprint.delete("/<int:flow_id>")
@endpoint(
    summary="Delete a flow, its versions and its sessions (live ones stop)",
    tags=["flows"],
    scope=WRITE_SCOPE,
    status=204,
    roles=MANAGERS,
    errors=[404],
)
def delete_flow(flow_id: int):
    flow = get_owned(Flow, flow_id, "flow")
    for session in FlowSession.select().where(
        FlowSession.flow == flow.id, FlowSession.status.in_(LIVE_STATUSES)
    ):
        stop_session(session, "flow_deleted")
    log_change("deleted", flow)
    flow.delete_instance()


@blueprint.post("/<int:flow_id>/publish")
@endpoint(
    summary="Publish the draft as the next version: new sessions run it, running ones keep theirs",
    tags=["flows"],
    scope=WRITE_SCOPE,
    response=VersionOut,
    status=201,
    roles=MANAGERS,
    errors=[404, 409],
)
def publish_flow(flow_id: int):
    flow = get_owned(Flow, flow_id, "flow")
    # the ids it names may have been deleted since it was saved
    definition = checked_definition(**flow.definition)
    if flow.active:
        refuse_keyword_clash(flow, definition["trigger"])
    principal = current_principal()
    try:
        with database.atomic():
            latest = (
                FlowVersion.select(peewee.fn.MAX(FlowVersion.version))
                .where(FlowVersion.flow == flow.id)
                .scalar()
            )
            version = FlowVersion.create(
                flow=flow.id,
                version=(latest or 0) + 1,
                definition=definition,
                published_by=principal.user.id if principal.user else None,
            )
            Flow.update(
                published_version=version.version,
                trigger_type=definition["trigger"]["type"],
                updated_at=utcnow(),
            ).where(Flow.id == flow.id).execute()
    except peewee.IntegrityError:
        raise Conflict("the flow was published by someone else at the same time; try again") from None
    log_change("updated", Flow.get_by_id(flow.id), snapshot(flow))
    return version_json(version)


@blueprint.get("/<int:flow_id>/versions")
@endpoint(
    summary="The flow's published versions, newest first",
    tags=["flows"],
    scope=(WRITE_SCOPE, RUN_SCOPE),
    query=PageQuery,
    response=page_of(VersionOut),
    errors=[404],
)
def list_versions(flow_id: int, query: PageQuery):
    get_owned(Flow, flow_id, "flow")
    versions = FlowVersion.select().where(FlowVersion.flow == flow_id).order_by(FlowVersion.version.desc())
    return paginate(versions, query, version_json)


def owned_version(flow: Flow, number: int) -> FlowVersion:
    version = FlowVersion.get_or_none(FlowVersion.flow == flow.id, FlowVersion.version == number)
    if version is None:
        raise NotFound("flow version")
    return version


@blueprint.get("/<int:flow_id>/versions/<int:number>")
@endpoint(summary="One published version", tags=["flows"], response=VersionOut, errors=[404],
          scope=(WRITE_SCOPE, RUN_SCOPE))
def show_version(flow_id: int, number: int):
    return version_json(owned_version(get_owned(Flow, flow_id, "flow"), number))


def recipient(body: FlowStartIn) -> Contact:
    principal = current_principal()
    if body.contact_id is not None:
        return get_owned(Contact, body.contact_id, "contact")
    try:
        phone = to_e164(body.to, Company.get_by_id(principal.company_id).default_country)
    except InvalidPhone as error:
        raise ValidationFailed("not a valid phone number", {"to": str(error)}) from None
    return upsert_contact(principal.company_id, phone, None, is_group=False)


@blueprint.post("/<int:flow_id>/start")
@endpoint(
    summary="Start the published flow for a contact on their live ticket (or a new one)",
    tags=["flows"],
    body=FlowStartIn,
    response=SessionStarted,
    status=202,
    roles=MANAGERS,
    errors=[404, 409, 422],
    enqueues=True,
    scope=RUN_SCOPE,
)
def start_flow(flow_id: int, body: FlowStartIn):
    flow = get_owned(Flow, flow_id, "flow")
    if flow.published_version is None:
        raise Conflict("publish the flow before starting it")
    contact = recipient(body)
    if is_opted_out(contact):
        raise Conflict("the contact opted out of automated messages", {"contactId": contact.id})
    if contact.blocked:
        raise Conflict("the contact is blocked", {"contactId": contact.id})
    ticket, _ = find_or_open_ticket(contact, pick_connection(body.connection_id))
    if ticket.user_id is not None:
        raise Conflict("an agent has this conversation; the bot stays out of it", {"ticketId": ticket.id})
    version = owned_version(flow, flow.published_version)
    session = create_session(version, ticket, contact, "api", body.variables)
    if session is None:
        raise Conflict("the ticket has a flow session running already", {"ticketId": ticket.id})
    job = enqueue_job(
        advance_flow_session,
        session.id,
        company_id=flow.company_id,
        user_id=current_principal().user.id if current_principal().user else None,
    )
    return session_json(session, job_id=job.id)


@blueprint.post("/<int:flow_id>/dry-run")
@endpoint(
    summary="Walk the draft (or a version) with scripted answers: the transcript, nothing sent",
    tags=["flows"],
    scope=WRITE_SCOPE,
    body=DryRunIn,
    response=DryRunOut,
    errors=[404],
)
def dry_run_flow(flow_id: int, body: DryRunIn):
    flow = get_owned(Flow, flow_id, "flow")
    definition = owned_version(flow, body.version).definition if body.version is not None else flow.definition
    contact = get_owned(Contact, body.contact_id, "contact") if body.contact_id is not None else None
    company = Company.get_by_id(flow.company_id)
    variables = dict(body.variables)
    if contact is not None:
        variables = {**initial_variables(contact, None), **variables}
    result = dry_run(
        definition,
        body.answers,
        {k: "" if v is None else str(v) for k, v in variables.items()},
        TranscriptEffects(company, contact, body.outcomes),
    )
    return DryRunOut.model_validate(result).to_json()


@blueprint.get("/sessions")
@endpoint(
    summary="The company's flow sessions, newest first",
    tags=["flows"],
    query=SessionQuery,
    response=page_of(FlowSessionOut),
    scope=RUN_SCOPE,
)
def list_sessions(query: SessionQuery):
    rows = owned(FlowSession).order_by(FlowSession.id.desc())
    if query.flow_id is not None:
        rows = rows.where(FlowSession.flow == query.flow_id)
    if query.status == "live":
        rows = rows.where(FlowSession.status.in_(LIVE_STATUSES))
    elif query.status:
        rows = rows.where(FlowSession.status == query.status)
    if query.ticket_id is not None:
        rows = rows.where(FlowSession.ticket == query.ticket_id)
    if query.contact_id is not None:
        rows = rows.where(FlowSession.contact == query.contact_id)
    return paginate(rows, query, session_json)


@blueprint.get("/sessions/<int:session_id>")
@endpoint(
    summary="A session with its step log",
    tags=["flows"],
    response=SessionDetail,
    errors=[404],
    scope=RUN_SCOPE,
)
def show_session(session_id: int):
    session = get_owned(FlowSession, session_id, "flow session")
    steps = FlowStep.select().where(FlowStep.session == session.id).order_by(FlowStep.seq)
    return session_json(session, steps_log=[StepOut.model_validate(step).to_json() for step in steps])


@blueprint.post("/sessions/<int:session_id>/stop")
@endpoint(
    summary="Stop a live session: the bot says nothing more",
    tags=["flows"],
    response=FlowSessionOut,
    roles=MANAGERS,
    errors=[404, 409],
    scope=RUN_SCOPE,
)
def stop(session_id: int):
    session = get_owned(FlowSession, session_id, "flow session")
    if not stop_session(session):
        raise ApiError(409, "the session has ended already", "conflict", {"status": session.status})
    return session_json(FlowSession.get_by_id(session_id))
