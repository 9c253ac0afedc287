"""Tickets: the conversations agents answer. Agents see their queues' tickets and their own.

Every change is recorded in the ticket's history (TicketEvent) and announced as `ticket:update`.
Programs read tickets with an API key's `tickets:read` and act on them with `tickets:write`; a program
has no user, so it accepts or reopens a ticket for the agent it names (`userId`), and its transfers,
closes and notes are recorded without one.

Each action is a `TicketWork` made from its body (`accepting`, `closing`...), which its endpoint applies to one
ticket and `POST /api/tickets/bulk` (api/resources/ticket_bulk.py) to many.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Literal

import peewee
from flask import Blueprint
from peewee import Case, fn
from pydantic import Field, field_validator, model_validator

from api.csv_export import csv_download, csv_text
from api.endpoint import endpoint
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed
from api.pagination import paginate
from api.resources.contact_fields import CONTACT_FIELDS
from api.resources.messages import MessageOut, message_json
from api.resources.queues import owned_ids
from api.resources.ticket_fields import TICKET_FIELDS
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, UtcDateTimeIn, iso_utc, page_of
from api.scoping import get_owned, owned, visible_ticket, visible_tickets
from api.security import current_principal
from api.ticket_json import NoteOut, Priority, TicketOut, announce_note, ticket_out
from db.base import holds, in_id_batches, utcnow
from db.company_settings import company_setting
from db.connections import Connection
from db.contacts import Contact, Tag
from db.messages import SHORTEST_SEARCH, Message, saying
from db.queues import Queue
from db.sla import SlaPolicy
from db.tickets import (
    ROLES_SEEING_ALL_TICKETS,
    SlaMiss,
    Ticket,
    TicketEvent,
    TicketNote,
    TicketTag,
    priority_name,
    priority_rank,
    sees_ticket,
    set_ticket_fields,
    set_ticket_tags,
    wake,
)
from db.users import User
from workers.assignment import at_ticket_limit, handover_notice, transfer
from workers.broker import enqueue_together
from workers.chat_actions import read_receipts, send_read_receipts
from workers.closing import close_with_farewell
from workers.events import announcing
from workers.messages import dispatch_outbound, dispatch_outbounds
from workers.notifications import notify

blueprint = Blueprint("tickets", __name__, url_prefix="/api/tickets")
READ_SCOPE, WRITE_SCOPE = "tickets:read", "tickets:write"
SORTS = {
    "-updatedAt": (Ticket.updated_at.desc(), Ticket.id.desc()),
    "updatedAt": (Ticket.updated_at, Ticket.id),
    "-createdAt": (Ticket.created_at.desc(), Ticket.id.desc()),
    "createdAt": (Ticket.created_at, Ticket.id),
    "-priority": (Ticket.priority.desc(), Ticket.updated_at.desc(), Ticket.id.desc()),
    "firstResponseDueAt": (Ticket.first_response_due_at.asc(nulls="LAST"), Ticket.id),
    "nextResponseDueAt": (Ticket.next_response_due_at.asc(nulls="LAST"), Ticket.id),
    "resolutionDueAt": (Ticket.resolution_due_at.asc(nulls="LAST"), Ticket.id),
}
SLA_SETTERS = ("super", "admin", "supervisor", "api_key")
LONGEST_SNOOZE = dt.timedelta(days=90)
# An action on one ticket the caller may see, in a transaction of its own: its new state (the answer), or a
# Conflict when the ticket's state forbids it. Made from the action's body, checked once (`accepting`...).
TicketWork = Callable[[Ticket], dict]


class TicketQuery(PageQuery):
    status: Literal["pending", "open", "closed"] | None = None
    queue_id: int | None = None
    user_id: int | None = None
    connection_id: int | None = None
    contact_id: int | None = Field(None, description="one contact's tickets: their conversations, earlier ones too")
    tag: int | None = Field(None, description="a tag id")
    search: str | None = Field(None, max_length=200, description="the contact's name or phone, ignoring case and "
                                  "accents; from 3 characters, also the text of any of the ticket's messages (as "
                                  "GET /api/messages?search= finds them)")
    unread: bool | None = None
    priority: Priority | Literal["none"] | None = Field(None, description="one priority, or none set")
    snoozed: bool | None = Field(None, description="true: the snoozed tickets only; false: those not snoozed (an "
                                 "open tab's); not given: both")
    sla_missed: bool | None = Field(None, description="true: the tickets that missed a target of their SLA policy; "
                                    "false: the others")
    field: str | None = Field(None, max_length=50, description="a ticket field's key: the tickets with a value in it")
    value: str | None = Field(None, max_length=200, description="with `field`: the tickets whose value in it is this, "
                                                                 "ignoring case and accents (a boolean: true or false)")
    contact_field: str | None = Field(None, max_length=50, description="a contact field's key: the tickets of the "
                                      "contacts with a value in it")
    contact_field_value: str | None = Field(None, max_length=200, description="with `contactField`: of the contacts "
                                            "whose value is this, ignoring case and accents (\"the gold customers' "
                                            "tickets\")")
    sort: Literal[tuple(SORTS)] = Field(  # type: ignore[valid-type]
        "-updatedAt", description="newest activity first; `-priority`: the most urgent first, then the newest; "
                                  "`firstResponseDueAt`, `nextResponseDueAt`, `resolutionDueAt`: the soonest due first, "
                                  "those with none last")


SLA_POLICY_ID = ("the SLA policy whose targets the ticket must meet, counted from when it opened (admins, supervisors, "
                 "programs); null: none")


class TicketChange(Schema):
    priority: Priority | None = Field(None, description="null clears it")
    sla_policy_id: int | None = Field(None, description=SLA_POLICY_ID)
    custom_fields: dict[str, Any] | None = Field(None, description="the conversation's attributes to set, by the keys "
                                                 "of /api/ticket-fields, each checked against its type; the others "
                                                 "stay; null takes one away")


class SlaIn(Schema):
    sla_policy_id: int | None = Field(description=SLA_POLICY_ID)  # required: the action is to set it


class TransferIn(Schema):
    queue_id: int | None = None
    user_id: int | None = None
    note: str | None = Field(None, max_length=4096)

    @model_validator(mode="after")
    def somewhere(self) -> TransferIn:
        if self.queue_id is None and self.user_id is None:
            raise ValueError("say where to: give queueId, userId or both")
        return self


class SnoozeIn(Schema):
    until: UtcDateTimeIn | None = Field(None, description="when it wakes, in the next 90 days; not given or null: "
                                                          "when the contact writes")

    @field_validator("until")
    @classmethod
    def ahead(cls, until: dt.datetime | None) -> dt.datetime | None:
        if until is not None and until <= utcnow():
            raise ValueError("must be in the future")
        if until is not None and until > utcnow() + LONGEST_SNOOZE:
            raise ValueError(f"must be within {LONGEST_SNOOZE.days} days")
        return until


class AssignIn(Schema):
    user_id: int | None = Field(None, description="The agent who gets the ticket: required of a program (API key); "
                                "a user takes it for themselves")


class CloseIn(Schema):
    send_farewell: bool = True


class NoteIn(Schema):
    body: str = Field(min_length=1, max_length=8192)
    mentioned_user_ids: list[int] = Field([], max_length=50, description="colleagues to notify (`notification:new`, "
                                                                         "GET /api/notifications); each must see "
                                                                         "the ticket")


class TagsIn(Schema):
    tag_ids: list[int] = Field(max_length=100)


class EventOut(OutSchema):
    id: int
    kind: str
    user_id: int | None
    data: dict
    created_at: UtcDateTime


class HistoryOut(OutSchema):
    events: list[EventOut]
    first_response_seconds: float | None
    resolution_seconds: float | None


@contextlib.contextmanager
def announced(ticket: Ticket) -> Iterator[dict]:
    """The block changes the ticket in one transaction with the webhook deliveries of the `ticket:update` that
    announces its new state, published once that commits (`Announcements`: a crash in between loses no
    delivery). Yields the dict that holds the new state after the block: the answer."""
    state: dict = {}
    with announcing() as announcements:
        yield state
        changed = Ticket.get_by_id(ticket.id)
        state.update(ticket_out(changed).to_json())
        announcements.add("ticket:update", changed.company_id, dict(state), ticket=changed)


def acting_user_id() -> int | None:
    """The user behind the call, None for a program."""
    return current_principal().user_id


def assignee(body: AssignIn | None) -> User:
    """Who gets an accepted or reopened ticket: the calling user, or the agent a program names."""
    user = current_principal().user
    named = body.user_id if body else None
    if user is None:
        if named is None:
            raise ValidationFailed("a program gives the ticket to an agent: name them in userId", {"userId": "required"})
        return get_owned(User, named, "user")
    if named not in (None, user.id):
        raise ValidationFailed("you take a ticket for yourself; to give it to someone, transfer it",
                               {"userId": "not yours"})
    return user


def check_ticket_limit(user: User) -> None:
    if (open_count := at_ticket_limit(user)) is not None:
        raise Conflict(f"{user.name} already has {open_count} open tickets (the limit)",
                       {"limit": user.max_open_tickets})


@blueprint.get("")
@endpoint(summary="List tickets, newest activity first", tags=["tickets"], query=TicketQuery,
          response=page_of(TicketOut), scope=READ_SCOPE)
def list_tickets(query: TicketQuery):
    ordered = filtered_tickets(query).order_by(*SORTS[query.sort])
    return paginate(ordered, query, lambda ticket: ticket_out(ticket).to_json())


def filtered_tickets(query: TicketQuery) -> peewee.ModelSelect:
    """The caller's tickets that match the list's filters."""
    tickets = visible_tickets()
    for field, value in ((Ticket.status, query.status), (Ticket.queue, query.queue_id),
                         (Ticket.user, query.user_id), (Ticket.connection, query.connection_id),
                         (Ticket.contact, query.contact_id)):
        if value is not None:
            tickets = tickets.where(field == value)
    if query.tag is not None:
        tickets = tickets.where(Ticket.id.in_(TicketTag.select(TicketTag.ticket).where(TicketTag.tag == query.tag)))
    if query.unread is not None:
        tickets = tickets.where((Ticket.unread_messages > 0) if query.unread else (Ticket.unread_messages == 0))
    if query.priority is not None:
        tickets = tickets.where(Ticket.priority == priority_rank(None if query.priority == "none" else query.priority))
    if query.snoozed is not None:
        tickets = tickets.where(Ticket.snoozed_at.is_null(not query.snoozed))
    if query.sla_missed is not None:
        missed = fn.EXISTS(SlaMiss.select().where(SlaMiss.ticket == Ticket.id))
        tickets = tickets.where(missed if query.sla_missed else ~missed)
    of_contact = CONTACT_FIELDS.filter(query.contact_field, query.contact_field_value,
                                       ("contactField", "contactFieldValue"))
    if of_contact is not None:
        tickets = tickets.where(of_contact)  # on the contact, joined
    if (own := TICKET_FIELDS.filter(query.field, query.value, ("field", "value"))) is not None:
        tickets = tickets.where(own)
    if query.search:
        text = query.search
        matches = holds(text, Contact.name, Contact.phone)
        if len(text.strip()) >= SHORTEST_SEARCH:  # shorter: no index narrows it, every message would be read
            said = Message.select(Message.ticket).where(Message.company == current_principal().company_id,
                                                        saying(text))  # uncorrelated: read once, by the index
            matches |= Ticket.id.in_(said)
        tickets = tickets.where(matches)
    return tickets


@blueprint.get("/export")
@endpoint(summary="The tickets of the list's filters as a CSV download (streamed in id order; no pages), for "
          "reports", tags=["tickets"], query=TicketQuery, roles=ROLES_SEEING_ALL_TICKETS, scope=READ_SCOPE)
def export_tickets(query: TicketQuery):
    names = {model: dict(owned(model).select(model.id, model.name).tuples()) for model in (Connection, Queue, User, SlaPolicy)}
    header = ["id", "status", "priority", "contactName", "phone", "connection", "queue", "agent", "createdAt",
              "firstResponseAt", "closedAt", "rating", "snoozedAt", "snoozedUntil", "lastMessage", "slaPolicy",
              "firstResponseDueAt", "nextResponseDueAt", "resolutionDueAt", *(keys := TICKET_FIELDS.keys())]
    tickets = filtered_tickets(query)

    def rows() -> Iterator[list[Any]]:
        for batch in in_id_batches(tickets):
            for ticket in batch:
                yield [ticket.id, ticket.status, priority_name(ticket.priority) or "", ticket.contact.name,
                       ticket.contact.phone, names[Connection].get(ticket.connection_id), names[Queue].get(ticket.queue_id),
                       names[User].get(ticket.user_id), iso_utc(ticket.created_at), iso_utc(ticket.first_response_at),
                       iso_utc(ticket.closed_at), ticket.rating, iso_utc(ticket.snoozed_at),
                       iso_utc(ticket.snoozed_until), ticket.last_message, names[SlaPolicy].get(ticket.sla_policy_id),
                       iso_utc(ticket.first_response_due_at), iso_utc(ticket.next_response_due_at),
                       iso_utc(ticket.resolution_due_at),
                       *(csv_text((ticket.custom_fields or {}).get(key)) for key in keys)]

    return csv_download(f"tickets-{iso_utc(utcnow())[:10]}.csv", header, rows())


@blueprint.get("/<int:ticket_id>")
@endpoint(summary="Show a ticket", tags=["tickets"], response=TicketOut, errors=[404], scope=READ_SCOPE)
def show_ticket(ticket_id: int):
    return ticket_out(visible_ticket(ticket_id))


@blueprint.patch("/<int:ticket_id>")
@endpoint(summary="Change the ticket's priority or SLA policy (recorded in its history), or its custom fields",
          tags=["tickets"], body=TicketChange, response=TicketOut, errors=[403, 404], scope=WRITE_SCOPE)
def change_ticket(ticket_id: int, body: TicketChange):
    ticket = visible_ticket(ticket_id)
    changes = body.changes()
    works = []
    if changes.get("custom_fields"):
        works.append(fields_setting(changes["custom_fields"]))
    if "sla_policy_id" in changes:
        works.append(sla_applying(SlaIn(sla_policy_id=changes["sla_policy_id"])))
    if "priority" in changes:
        works.append(prioritising(changes["priority"]))
    if not works:
        return ticket_out(ticket)
    for work in works:
        state = work(ticket)
    return state


def sla_applying(body: SlaIn) -> TicketWork:
    """Admins, supervisors and programs set SLA policies (a 403 for agents)."""
    if current_principal().role not in SLA_SETTERS:
        raise Forbidden("only admins, supervisors and programs set a ticket's SLA policy")
    policy = get_owned(SlaPolicy, body.sla_policy_id, "SLA policy") if body.sla_policy_id is not None else None

    def apply(ticket: Ticket) -> dict:
        with announced(ticket) as state:
            ticket.apply_sla(acting_user_id(), policy)
        return state

    return apply


def fields_setting(values: dict[str, Any]) -> TicketWork:
    """The ticket's custom fields changed by `values` (checked now: a 400 before any ticket changes)."""
    TICKET_FIELDS.checked(current_principal().company_id, values)

    def set_fields(ticket: Ticket) -> dict:
        merged = TICKET_FIELDS.merged(ticket.company_id, ticket.custom_fields, values)
        with announced(ticket) as state:
            set_ticket_fields(ticket, merged, acting_user_id())
        return state

    return set_fields


def prioritising(priority: str | None) -> TicketWork:
    def prioritise(ticket: Ticket) -> dict:
        with announced(ticket) as state:
            ticket.prioritise(acting_user_id(), priority)
        return state

    return prioritise


@blueprint.get("/<int:ticket_id>/messages")
@endpoint(summary="The ticket's messages, newest last", tags=["tickets"], query=PageQuery,
          response=page_of(MessageOut), errors=[404], scope=(READ_SCOPE, "messages:read"))
def ticket_messages(ticket_id: int, query: PageQuery):
    ticket = visible_ticket(ticket_id)
    messages = Message.select().where(Message.ticket == ticket.id).order_by(Message.created_at, Message.id)
    return paginate(messages, query, message_json)


@blueprint.post("/<int:ticket_id>/accept")
@endpoint(summary="Take the ticket: open, and yours (a program names the agent)", tags=["tickets"], body=AssignIn,
          optional_body=True, response=TicketOut, errors=[404, 409], scope=WRITE_SCOPE)
def accept_ticket(ticket_id: int, body: AssignIn | None):
    ticket = visible_ticket(ticket_id)
    return accepting(body)(ticket)


def accepting(body: AssignIn | None) -> TicketWork:
    user = assignee(body)

    def accept(ticket: Ticket) -> dict:
        if ticket.status == "open" and ticket.user_id == user.id:
            return ticket_out(ticket).to_json()
        if ticket.status == "closed":
            raise Conflict("the ticket is closed; reopen it instead")
        check_ticket_limit(user)
        with announced(ticket) as state:
            ticket.accept(user.id)
            notice = handover_notice(ticket.id, "accepted_message")
        if notice is not None:
            dispatch_outbound(notice)
        return state

    return accept


@blueprint.post("/<int:ticket_id>/transfer")
@endpoint(summary="Transfer to another queue and/or agent, with a note", tags=["tickets"], body=TransferIn,
          response=TicketOut, errors=[404, 409], scope=WRITE_SCOPE)
def transfer_ticket(ticket_id: int, body: TransferIn):
    ticket = visible_ticket(ticket_id)
    return transferring(body)(ticket)


def transferring(body: TransferIn) -> TicketWork:
    """The queue and agent named are the company's (a 404 otherwise); each ticket given to the agent counts
    against their limit."""
    if body.queue_id is not None:
        get_owned(Queue, body.queue_id, "queue")
    target = get_owned(User, body.user_id, "user") if body.user_id is not None else None
    by_user_id = acting_user_id()

    def move(ticket: Ticket) -> dict:
        if ticket.status == "closed":
            raise Conflict("the ticket is closed; reopen it instead")
        if target is not None:
            check_ticket_limit(target)
        with announced(ticket) as state:
            transfer(ticket, by_user_id, body.queue_id, body.user_id)
            if body.note:
                TicketNote.create(ticket=ticket, user=by_user_id, body=body.note)
            notice = handover_notice(ticket.id, "transferred_message")
        if notice is not None:
            dispatch_outbound(notice)
        return state

    return move


@blueprint.post("/<int:ticket_id>/close")
@endpoint(summary="Close the ticket (the connection's farewell is sent, then the rating question when the company "
                  "asks for ratings)", tags=["tickets"], body=CloseIn,
          optional_body=True, response=TicketOut, errors=[404], scope=WRITE_SCOPE)
def close_ticket(ticket_id: int, body: CloseIn | None):
    ticket = visible_ticket(ticket_id)
    return closing(body)(ticket)


def closing(body: CloseIn | None) -> TicketWork:
    send_farewell = body is None or body.send_farewell
    by_user_id = acting_user_id()

    def close(ticket: Ticket) -> dict:
        if ticket.status == "closed":
            return ticket_out(ticket).to_json()
        agent = current_principal().user or ticket.user  # a program closes in the name of the ticket's agent
        with announced(ticket) as state:
            outbounds = close_with_farewell(ticket, by_user_id, agent.name if agent else "", send_farewell)
        if outbounds:
            dispatch_outbounds(outbounds)
        return state

    return close


@blueprint.post("/<int:ticket_id>/reopen")
@endpoint(summary="Reopen a closed ticket, for yourself (a program names the agent)", tags=["tickets"],
          body=AssignIn, optional_body=True, response=TicketOut, errors=[404, 409], scope=WRITE_SCOPE)
def reopen_ticket(ticket_id: int, body: AssignIn | None):
    ticket = visible_ticket(ticket_id)
    return reopening(body)(ticket)


def reopening(body: AssignIn | None) -> TicketWork:
    user = assignee(body)

    def reopen(ticket: Ticket) -> dict:
        if ticket.status != "closed":
            raise Conflict("the ticket is not closed")
        try:
            with announced(ticket) as state:
                ticket.reopen(user.id)
        except peewee.IntegrityError:
            raise Conflict("the contact has another live ticket on this connection") from None
        return state

    return reopen


@blueprint.post("/<int:ticket_id>/snooze")
@endpoint(summary="Snooze the open ticket until a time, or until the contact writes: it stays open and its agent's, "
                  "out of the way of lists that ask for snoozed=false (accepting, transferring or closing it wakes "
                  "it too)", tags=["tickets"], body=SnoozeIn, optional_body=True, response=TicketOut,
          errors=[404, 409], scope=WRITE_SCOPE)
def snooze_ticket(ticket_id: int, body: SnoozeIn | None):
    ticket = visible_ticket(ticket_id)
    return snoozing(body)(ticket)


def snoozing(body: SnoozeIn | None) -> TicketWork:
    until = body.until if body else None

    def snooze(ticket: Ticket) -> dict:
        with announced(ticket) as state:
            if not ticket.snooze(acting_user_id(), until):
                raise Conflict("only an open ticket can be snoozed")
        return state

    return snooze


@blueprint.post("/<int:ticket_id>/unsnooze")
@endpoint(summary="Wake a snoozed ticket now", tags=["tickets"], response=TicketOut, errors=[404], scope=WRITE_SCOPE)
def unsnooze_ticket(ticket_id: int):
    return unsnooze(visible_ticket(ticket_id))


def unsnooze(ticket: Ticket) -> dict:
    if ticket.snoozed_at is None:
        return ticket_out(ticket).to_json()
    with announced(ticket) as state:
        wake([ticket], "unsnoozed", acting_user_id())
    return state


@blueprint.post("/<int:ticket_id>/read")
@endpoint(summary="Mark the ticket's messages read", tags=["tickets"], response=TicketOut, errors=[404],
          scope=WRITE_SCOPE)
def mark_read(ticket_id: int):
    return read_ticket(visible_ticket(ticket_id))


def read_ticket(ticket: Ticket) -> dict:
    with announced(ticket) as state:
        Ticket.update(unread_messages=0).where(Ticket.id == ticket.id).execute()
        read = Message.update(status="read", read_at=utcnow()).where(
            Message.ticket == ticket.id, Message.direction == "in", Message.status == "delivered"
        ).returning(Message.wa_id, Message.direction, Message.sender_phone).execute()
        send_read_receipts_of(ticket, list(read))
    return state


@blueprint.post("/<int:ticket_id>/unread")
@endpoint(summary="Mark the ticket unread, as Chatwoot's and WhatsApp's \"mark as unread\": it counts one unread "
          "message at least until someone reads it (the contact's blue ticks stay as they were)", tags=["tickets"],
          response=TicketOut, errors=[404], scope=WRITE_SCOPE)
def mark_unread(ticket_id: int):
    return unread_ticket(visible_ticket(ticket_id))


def unread_ticket(ticket: Ticket) -> dict:
    with announced(ticket) as state:
        Ticket.update(unread_messages=Case(None, [(Ticket.unread_messages < 1, 1)], Ticket.unread_messages)).where(
            Ticket.id == ticket.id).execute()
    return state


def send_read_receipts_of(ticket: Ticket, read: list[Message]) -> None:
    """The contact's blue ticks for what was just read, unless the company keeps them off."""
    if not read or not ticket.connection_id or not company_setting(ticket.company_id, "send_read_receipts"):
        return
    chat = Contact.get_by_id(ticket.contact_id).phone.lstrip("+")
    enqueue_together(send_read_receipts.broker, read_receipts(ticket.connection_id, chat, ticket.is_group, read))


@blueprint.post("/<int:ticket_id>/notes")
@endpoint(summary="Add a private note (never sent to the contact)", tags=["tickets"], body=NoteIn,
          response=TicketOut, errors=[404], scope=WRITE_SCOPE)
def add_note(ticket_id: int, body: NoteIn):
    return noting(body)(visible_ticket(ticket_id))


def noting(body: NoteIn) -> TicketWork:
    author_id = acting_user_id()

    def note(ticket: Ticket) -> dict:
        mentioned = seeing_the_ticket(ticket, body.mentioned_user_ids)
        with announcing() as announcements:
            note = TicketNote.create(ticket=ticket, user=author_id, body=body.body)
            announce_note(announcements, note, ticket)
            notify(mentioned, "mention", ticket, author_id, noteId=note.id, text=body.body[:280])
        return ticket_out(ticket).to_json()

    return note


def seeing_the_ticket(ticket: Ticket, user_ids: list[int]) -> list[int]:
    """The users named, each an active user of the company who may see the ticket (a mention they could not
    follow is a 409: transfer the ticket or add them to its queue first)."""
    named = owned_ids(User, user_ids, "mentionedUserIds")
    users = list(owned(User).where(User.id.in_(named), User.active == True))  # noqa: E712
    blind = [user.id for user in users if not sees_ticket(ticket, user)]
    if blind or len(users) < len(named):
        raise Conflict("some of those mentioned cannot see this ticket: transfer it or add them to its queue",
                       {"mentionedUserIds": sorted(blind or set(named) - {user.id for user in users})})
    return [user.id for user in users]


@blueprint.get("/<int:ticket_id>/notes")
@endpoint(summary="The ticket's notes, oldest first", tags=["tickets"], query=PageQuery, response=page_of(NoteOut),
          errors=[404], scope=READ_SCOPE)
def list_notes(ticket_id: int, query: PageQuery):
    ticket = visible_ticket(ticket_id)
    notes = TicketNote.select().where(TicketNote.ticket == ticket.id).order_by(TicketNote.created_at, TicketNote.id)
    return paginate(notes, query, lambda note: NoteOut.model_validate(note).to_json())


@blueprint.put("/<int:ticket_id>/tags")
@endpoint(summary="Set the ticket's tags", tags=["tickets"], body=TagsIn, response=TicketOut, errors=[404],
          scope=WRITE_SCOPE)
def set_tags(ticket_id: int, body: TagsIn):
    ticket = visible_ticket(ticket_id)
    return tagging(body)(ticket)


def tagging(body: TagsIn) -> TicketWork:
    """The tags named are the company's (a 404 otherwise); they replace the ticket's."""
    tag_ids = set(body.tag_ids)
    if owned(Tag).where(Tag.id.in_(tag_ids)).count() != len(tag_ids):
        raise NotFound("tag")

    def tag(ticket: Ticket) -> dict:
        with announced(ticket) as state:
            set_ticket_tags(ticket.id, tag_ids, acting_user_id())
        return state

    return tag


@blueprint.get("/<int:ticket_id>/history")
@endpoint(summary="What happened to the ticket, with its first-response and resolution times", tags=["tickets"],
          response=HistoryOut, errors=[404], scope=READ_SCOPE)
def history(ticket_id: int):
    ticket = visible_ticket(ticket_id)
    events = TicketEvent.select().where(TicketEvent.ticket == ticket.id).order_by(TicketEvent.created_at,
                                                                                  TicketEvent.id)

    def seconds_until(moment) -> float | None:
        return (moment - ticket.created_at).total_seconds() if moment else None

    return HistoryOut(events=[EventOut.model_validate(e) for e in events],
                      first_response_seconds=seconds_until(ticket.first_response_at),
                      resolution_seconds=seconds_until(ticket.closed_at))


@blueprint.delete("/<int:ticket_id>")
@endpoint(summary="Delete a ticket and its messages", tags=["tickets"], status=204, roles=("super", "admin"),
          errors=[404])
def delete_ticket(ticket_id: int):
    ticket = visible_ticket(ticket_id)
    with announcing() as announcements:
        ticket.delete_instance()
        announcements.add("ticket:delete", ticket.company_id, {"id": ticket.id}, ticket=ticket)
