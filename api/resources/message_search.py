"""Finding messages by what they say: `GET /api/messages?search=`, across the caller's conversations, newest first,
each with its ticket and the ticket's contact, so that a client can open the conversation.

A caller finds messages only in the tickets they may see (`api.scoping.ticket_visibility`, as in the tickets
list): an agent never finds another agent's conversation, and no one another company's. Programs read it with
`messages:read`. Sending, reading and changing one message are `api/resources/messages.py`; this blueprint
serves the GET beside its POST on the same path.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint
from pydantic import Field, StringConstraints

from api.endpoint import endpoint
from api.pagination import paginate
from api.resources.messages import MessageJson, MessageOut
from api.schemas import OutSchema, PageQuery, UtcDateTimeIn, page_of
from api.scoping import ticket_visibility
from api.security import current_principal
from api.ticket_json import ContactBrief
from db.contacts import Contact
from db.messages import SHORTEST_SEARCH, Message, saying
from db.tickets import Ticket

blueprint = Blueprint("message_search", __name__)


class MessageSearchQuery(PageQuery):
    search: Annotated[str, StringConstraints(strip_whitespace=True, min_length=SHORTEST_SEARCH, max_length=200)] = (
        Field(description="text the message holds, ignoring case and accents; `%` and `_` are plain characters. A "
                          "message deleted for everyone is not found by the text it had"))
    ticket_id: int | None = None
    contact_id: int | None = Field(None, description="the contact of the message's ticket")
    connection_id: int | None = None
    from_me: bool | None = Field(None, description="true: ours (agents, programs, bots); false: the contacts'")
    after: UtcDateTimeIn | None = Field(None, description="written at or after this time")
    before: UtcDateTimeIn | None = Field(None, description="written before this time")


class TicketBrief(OutSchema):
    id: int
    status: str
    contact: ContactBrief | None = Field(description="null for an API key that may read neither contacts nor "
                                                     "tickets (`contacts:read`, `tickets:read`)")


class FoundMessageOut(MessageOut):
    ticket: TicketBrief = Field(description="the message's ticket (its conversation) and the ticket's contact")


CONTACT_SCOPES = {"contacts:read", "contacts:write", "tickets:read", "tickets:write"}


class FoundMessageJson(MessageJson):
    """A found message as `GET /api/messages/:id` shows it, with its ticket and contact (joined in the search); a
    program that may read messages only gets no contact's name and number."""

    def page(self, messages: list[Message]) -> list[dict[str, Any]]:
        scopes = current_principal().scopes
        shows_contacts = scopes is None or bool(scopes & CONTACT_SCOPES)
        return [{**shown, "ticket": TicketBrief(id=message.ticket.id, status=message.ticket.status,
                                                contact=message.ticket.contact if shows_contacts else None).to_json()}
                for message, shown in zip(messages, super().page(messages), strict=True)]


@blueprint.get("/api/messages")
@endpoint(summary="Find messages by their text in the conversations the caller may see, newest first",
          tags=["messages"], query=MessageSearchQuery, response=page_of(FoundMessageOut), scope="messages:read")
def search_messages(query: MessageSearchQuery):
    found = (Message.select(Message, Ticket, Contact).join(Ticket).join(Contact)
             .where(Message.company == current_principal().company_id, ticket_visibility(), saying(query.search)))
    for field, value in ((Message.ticket, query.ticket_id), (Ticket.contact, query.contact_id),
                         (Message.connection, query.connection_id)):
        if value is not None:
            found = found.where(field == value)
    if query.from_me is not None:
        found = found.where(Message.direction == ("out" if query.from_me else "in"))
    if query.after is not None:
        found = found.where(Message.created_at >= query.after)
    if query.before is not None:
        found = found.where(Message.created_at < query.before)
    return paginate(found.order_by(Message.created_at.desc(), Message.id.desc()), query, FoundMessageJson())
