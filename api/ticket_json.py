"""A ticket as clients see it: in the API's answers and in every `ticket:new` and `ticket:update` event
(realtime and webhooks), wherever the change was made (a request, an inbound message, a flow, the
auto-close), so an integration meets one shape of a ticket."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, computed_field, field_validator

from api.schemas import OutSchema, UtcDateTime
from db.contacts import Contact, Tag
from db.sla import SLA_KINDS
from db.tickets import PRIORITIES, SlaMiss, Ticket, TicketNote, TicketTag, priority_name
from wharf.media import profile_picture_link

if TYPE_CHECKING:
    from workers.events import Announcements

Priority = Literal[PRIORITIES]  # type: ignore[valid-type]


class WithProfilePicture(OutSchema):
    """A contact's shape with its WhatsApp profile picture (workers/profile_pictures.py), by a signed link."""

    id: int
    profile_pic_path: str | None = Field(None, exclude=True)

    @computed_field(description="the contact's WhatsApp profile picture, by a link that opens without Authorization "
                                "for 24 hours (GET /api/media/:token); null: none, or not fetched yet")
    def profile_pic_url(self) -> str | None:
        return profile_picture_link(self.id) if self.profile_pic_path else None


class ContactBrief(WithProfilePicture):
    name: str
    phone: str
    is_group: bool


class TagBrief(OutSchema):
    id: int
    name: str
    color: str


class TicketOut(OutSchema):
    id: int
    status: str
    contact: ContactBrief
    connection_id: int | None
    queue_id: int | None
    user_id: int | None
    priority: Priority | None = Field(description="how soon it needs an answer; null: not set")
    unread_messages: int
    last_message: str
    last_message_at: UtcDateTime | None
    is_group: bool
    tags: list[TagBrief]
    first_response_at: UtcDateTime | None
    closed_at: UtcDateTime | None
    rating: int | None = Field(description="1 to 5: the contact's rating of the service, asked when the ticket "
                                           "closed (the setting ratingEnabled)")
    rated_at: UtcDateTime | None
    snoozed_at: UtcDateTime | None = Field(description="when it was snoozed (POST /api/tickets/:id/snooze); null: "
                                                       "not snoozed")
    snoozed_until: UtcDateTime | None = Field(description="when it wakes; null while snoozed: when the contact "
                                                          "writes")
    sla_policy_id: int | None = Field(description="the SLA policy it must meet (PATCH /api/tickets/:id, or an "
                                                  "automation rule); null: none")
    first_response_due_at: UtcDateTime | None = Field(description="its policy's first-response target")
    resolution_due_at: UtcDateTime | None = Field(description="its policy's resolution target")
    waiting_since: UtcDateTime | None = Field(description="the contact's first message since our agents' last answer, "
                                                          "while its policy has a next-response target (kept within "
                                                          "the minute); null: no one waits")
    next_response_due_at: UtcDateTime | None = Field(description="its policy's next-response target: the answer to "
                                                                 "that wait")
    sla_misses: list[Literal[SLA_KINDS]] = Field(  # type: ignore[valid-type]
        description="the targets of its policy it missed, each once: first_response, next_response (one wait or "
                    "more), resolution")
    custom_fields: dict[str, Any] = Field(description="the conversation's own attributes, by the keys of "
                                                      "/api/ticket-fields")
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @field_validator("priority", mode="before")
    @classmethod
    def named(cls, rank: int | str | None) -> str | None:
        return priority_name(rank) if isinstance(rank, int) else rank

    @field_validator("custom_fields", mode="before")
    @classmethod
    def none_set(cls, values: dict | None) -> dict:
        return values or {}


def tickets_out(tickets: Collection[Ticket], contacts: Mapping[int, Contact] | None = None) -> dict[int, TicketOut]:
    """{id: shape} of the tickets as they are in memory, their tags and contacts (those neither joined to
    them nor given, by id, in `contacts`) read in one query each."""
    contacts = dict(contacts or {})
    unjoined = {ticket.contact_id for ticket in tickets if "contact" not in ticket.__rel__} - contacts.keys()
    if unjoined:
        contacts.update((contact.id, contact) for contact in Contact.select().where(Contact.id.in_(unjoined)))
    tags = defaultdict(list)
    for link in (TicketTag.select(TicketTag.ticket, Tag).join(Tag)
                 .where(TicketTag.ticket.in_([ticket.id for ticket in tickets])).order_by(Tag.name)):
        tags[link.ticket_id].append(link.tag)
    misses = defaultdict(list)
    if with_sla := [ticket.id for ticket in tickets if ticket.sla_policy_id is not None]:
        for miss in SlaMiss.select(SlaMiss.ticket, SlaMiss.kind).where(SlaMiss.ticket.in_(with_sla)).order_by(SlaMiss.id):
            if miss.kind not in misses[miss.ticket_id]:
                misses[miss.ticket_id].append(miss.kind)
    return {ticket.id: TicketOut.model_validate({
        **ticket.__data__, "contact": contacts.get(ticket.contact_id) or ticket.contact, "tags": tags[ticket.id],
        "connection_id": ticket.connection_id, "queue_id": ticket.queue_id, "user_id": ticket.user_id,
        "sla_policy_id": ticket.sla_policy_id, "sla_misses": misses[ticket.id],
    }) for ticket in tickets}


def ticket_out(ticket: Ticket) -> TicketOut:
    return tickets_out([ticket])[ticket.id]


def tickets_json(tickets: Collection[Ticket], contacts: Mapping[int, Contact] | None = None) -> dict[int, dict]:
    """`tickets_out` as an event's data."""
    return {ticket_id: shape.to_json() for ticket_id, shape in tickets_out(tickets, contacts).items()}


class NoteOut(OutSchema):
    id: int
    user_id: int | None
    body: str
    created_at: UtcDateTime


def announce_note(announcements: Announcements, note: TicketNote, ticket: Ticket) -> None:
    """`ticket:note`, a private note added to the ticket (by an agent, or by a bot: no user)."""
    announcements.add("ticket:note", ticket.company_id, NoteOut.model_validate(note).to_json() | {"ticketId": ticket.id},
                      ticket=ticket)
