"""Scheduled messages: one-off (`sendAt`) or recurring (`cron` in a timezone), to a contact or a phone.

The handlers only write the row; the scheduler's tick queues it when due. A schedule is edited or
cancelled while pending; its runs are its history.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from flask import Blueprint
from pydantic import Field, field_validator

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed
from api.pagination import paginate
from api.resources.campaigns import valid_cron
from api.resources.messages import in_another_agents_ticket, recipient_phone
from api.resources.queues import owned_ids
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, UtcDateTimeIn, page_of
from api.scoping import owned_or_own, sees_ticket
from api.security import current_principal
from db.base import utcnow
from db.company_settings import Timezone
from db.connections import Connection
from db.contacts import Contact
from db.schedules import SCHEDULE_STATUSES, Schedule, ScheduleRun, next_cron_time
from db.tickets import live_tickets

blueprint = Blueprint("schedules", __name__, url_prefix="/api/schedules")
SCOPE = "campaigns:write"
# A sendAt this far behind the clock is a mistake (a wrong year, say), not "now": it would go out at once
PAST_SEND_AT_GRACE = dt.timedelta(minutes=5)
STATUS_POSTERS = ("super", "admin", "supervisor", "api_key")  # who posts Statuses (api/resources/statuses.py)


class ScheduleFields(Schema):
    connection_id: int | None = None
    contact_id: int | None = None
    to: str | None = Field(None, max_length=64, description="a phone, or a group's id (120363012345678901@g.us), when "
                                                           "no contactId is given")
    body: str | None = Field(None, max_length=4096)
    media_url: str | None = Field(None, pattern=r"^https?://", max_length=2048)
    voice_note: bool = Field(False, description="send mediaUrl's audio as a voice note, made Ogg/Opus from any "
                                                      "audio when fetched; it goes without a body")
    status_post: bool = Field(False, description="post a WhatsApp Status for the number's contacts instead "
                                     "(body its text, mediaUrl its image, video or audio; no contact); admins and "
                                     "supervisors")
    send_at: UtcDateTimeIn | None = None
    cron: str | None = Field(None, max_length=100, description="recurring: the next sendAt follows it")
    timezone: Timezone | None = None

    _cron = field_validator("cron")(valid_cron)


class ScheduleCreate(ScheduleFields):
    connection_id: int


class ScheduleOut(OutSchema):
    id: int
    connection_id: int | None
    contact_id: int | None
    to: str | None
    body: str
    media_url: str | None
    voice_note: bool
    status_post: bool
    send_at: UtcDateTime
    cron: str | None
    timezone: str
    status: str
    reason: str | None
    last_run_at: UtcDateTime | None
    run_count: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class RunOut(OutSchema):
    id: int
    due_at: UtcDateTime
    status: str
    error: str | None
    message_id: int | None
    created_at: UtcDateTime


class ScheduleQuery(PageQuery):
    status: Literal[SCHEDULE_STATUSES] | None = None  # type: ignore[valid-type]
    contact_id: int | None = None


def schedule_json(schedule: Schedule) -> dict:
    return ScheduleOut.model_validate({**snapshot(schedule), "connection_id": schedule.connection_id,
                                       "contact_id": schedule.contact_id, "created_at": schedule.created_at,
                                       "updated_at": schedule.updated_at}).to_json()


def save_schedule(schedule: Schedule, body: ScheduleFields) -> None:
    """Write the fields sent; the row must still say whom, what and when."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("connection_id") is not None:
        owned_ids(Connection, [changes["connection_id"]], "connectionId")
    if changes.get("contact_id") is not None:
        owned_ids(Contact, [changes["contact_id"]], "contactId")
        changes["to"] = None
    elif changes.get("to"):
        changes["to"], changes["contact_id"] = recipient_phone(changes["to"], current_principal().company_id), None
    if changes.get("send_at") is not None and changes["send_at"] < utcnow() - PAST_SEND_AT_GRACE:
        raise ValidationFailed("sendAt is in the past", {"sendAt": "in the past"})
    for name, value in changes.items():
        setattr(schedule, name, value)
    schedule.timezone = schedule.timezone or "UTC"
    if schedule.status_post:
        check_status_post(schedule)
    elif schedule.contact_id is None and not schedule.to:
        raise ValidationFailed("say to whom: a contactId or a phone in `to`", {"to": "missing"})
    if not schedule.body and not schedule.media_url:
        raise ValidationFailed("say something: a body or a mediaUrl", {"body": "empty message"})
    if schedule.voice_note and not schedule.media_url:
        raise ValidationFailed("a voice note needs its audio: a mediaUrl", {"mediaUrl": "missing"})
    if schedule.voice_note and schedule.body:
        raise ValidationFailed("a voice note goes without a body", {"body": "not with voiceNote"})
    if schedule.send_at is None or ("cron" in changes and "send_at" not in changes and schedule.cron):
        if not schedule.cron:
            raise ValidationFailed("say when: a sendAt or a cron", {"sendAt": "missing"})
        schedule.send_at = next_cron_time(schedule.cron, schedule.timezone, utcnow())
    refuse_others_conversation(schedule)
    schedule.save()


def check_status_post(schedule: Schedule) -> None:
    """A Status goes to the number's contacts, from a manager: no contact, no voice note (a Status's audio is one)."""
    if current_principal().role not in STATUS_POSTERS:
        raise Forbidden("only admins and supervisors post Statuses")
    if schedule.contact_id is not None or schedule.to:
        raise ValidationFailed("a Status goes to the number's contacts, not to one", {"to": "not with statusPost"})
    if schedule.voice_note:
        raise ValidationFailed("a Status's audio needs no voiceNote", {"voiceNote": "not with statusPost"})


def refuse_others_conversation(schedule: Schedule) -> None:
    """An agent schedules into the conversations they may write in, as they send (`POST /api/messages`)."""
    if schedule.status_post:
        return
    contact_id = schedule.contact_id or Contact.select(Contact.id).where(
        Contact.company == schedule.company_id, Contact.phone == schedule.to).scalar()
    live = live_tickets(contact_id, schedule.connection_id).first() if contact_id else None
    if live is not None and not sees_ticket(live):
        raise in_another_agents_ticket(live)


def own_schedule(schedule_id: int) -> Schedule:
    schedule = owned_or_own(Schedule).where(Schedule.id == schedule_id).first()
    if schedule is None:
        raise NotFound("schedule")
    return schedule


def pending(schedule_id: int) -> Schedule:
    schedule = own_schedule(schedule_id)
    if schedule.status != "pending":
        raise Conflict(f"a {schedule.status} schedule cannot be changed", {"status": schedule.status})
    return schedule


@blueprint.get("")
@endpoint(summary="List the scheduled messages, soonest first (an agent sees their own)", tags=["schedules"],
          query=ScheduleQuery, response=page_of(ScheduleOut), scope=SCOPE)
def list_schedules(query: ScheduleQuery):
    schedules = owned_or_own(Schedule).order_by(Schedule.send_at, Schedule.id)
    if query.status:
        schedules = schedules.where(Schedule.status == query.status)
    if query.contact_id:
        schedules = schedules.where(Schedule.contact == query.contact_id)
    return paginate(schedules, query, schedule_json)


@blueprint.post("")
@endpoint(summary="Schedule a message: once at sendAt, or by cron in a timezone", tags=["schedules"],
          body=ScheduleCreate, response=ScheduleOut, status=201, errors=[400], scope=SCOPE)
def create_schedule(body: ScheduleCreate):
    principal = current_principal()
    schedule = Schedule(company=principal.company_id, user=principal.user.id if principal.user else None)
    save_schedule(schedule, body)
    log_change("created", schedule)
    return schedule_json(schedule)


@blueprint.get("/<int:schedule_id>")
@endpoint(summary="Show a scheduled message", tags=["schedules"], response=ScheduleOut, errors=[404], scope=SCOPE)
def show_schedule(schedule_id: int):
    return schedule_json(own_schedule(schedule_id))


@blueprint.patch("/<int:schedule_id>")
@endpoint(summary="Change a pending scheduled message", tags=["schedules"], body=ScheduleFields,
          response=ScheduleOut, errors=[404, 409], scope=SCOPE)
def update_schedule(schedule_id: int, body: ScheduleFields):
    schedule = pending(schedule_id)
    before = snapshot(schedule)
    save_schedule(schedule, body)
    log_change("updated", schedule, before)
    return schedule_json(schedule)


@blueprint.post("/<int:schedule_id>/cancel")
@endpoint(summary="Cancel a pending scheduled message (a recurring one stops)", tags=["schedules"],
          response=ScheduleOut, errors=[404, 409], scope=SCOPE)
def cancel_schedule(schedule_id: int):
    schedule = pending(schedule_id)
    cancelled = Schedule.update(status="cancelled", updated_at=utcnow()).where(
        Schedule.id == schedule_id, Schedule.status == "pending").execute()
    if not cancelled:  # the scheduler sent it a moment ago
        raise Conflict("the schedule is no longer pending", {"status": Schedule.get_by_id(schedule_id).status})
    log_change("updated", Schedule.get_by_id(schedule_id), snapshot(schedule))
    return schedule_json(Schedule.get_by_id(schedule_id))


@blueprint.delete("/<int:schedule_id>")
@endpoint(summary="Delete a scheduled message and its history", tags=["schedules"], status=204, errors=[404],
          scope=SCOPE)
def delete_schedule(schedule_id: int):
    schedule = own_schedule(schedule_id)
    log_change("deleted", schedule)
    schedule.delete_instance()


@blueprint.get("/<int:schedule_id>/runs")
@endpoint(summary="The schedule's runs, newest first: the message each queued, or why it could not",
          tags=["schedules"], query=PageQuery, response=page_of(RunOut), errors=[404], scope=SCOPE)
def list_runs(schedule_id: int, query: PageQuery):
    own_schedule(schedule_id)
    runs = ScheduleRun.select().where(ScheduleRun.schedule == schedule_id).order_by(ScheduleRun.id.desc())
    return paginate(runs, query, lambda run: RunOut.model_validate(
        {**snapshot(run), "message_id": run.message_id, "created_at": run.created_at}).to_json())
