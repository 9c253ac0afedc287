"""Tickets (one conversation with a contact on a connection), their history and notes."""

import peewee

from db.base import BaseModel, JSONField, TimestampedModel, database, utcnow
from db.companies import Company
from db.connections import Connection
from db.contacts import Contact, Tag
from db.queues import Queue
from db.users import User

TICKET_STATUSES = ("pending", "open", "closed")


class Ticket(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="tickets", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, backref="tickets", on_delete="CASCADE")
    connection = peewee.ForeignKeyField(Connection, null=True, backref="tickets", on_delete="SET NULL")
    queue = peewee.ForeignKeyField(Queue, null=True, backref="tickets", on_delete="SET NULL")
    user = peewee.ForeignKeyField(User, null=True, backref="tickets", on_delete="SET NULL")
    status = peewee.CharField(max_length=10, default="pending")
    priority = peewee.IntegerField(default=0)
    unread_messages = peewee.IntegerField(default=0)
    last_message = peewee.TextField(default="")
    last_message_at = peewee.DateTimeField(null=True)
    is_group = peewee.BooleanField(default=False)
    first_response_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("company", "status", "updated_at"), False),
            (("company", "queue", "status"), False),
            (("company", "user", "status"), False),
            (("contact", "connection", "status"), False),
        )


# One live ticket per contact and connection: racing inbound messages cannot open two.
Ticket.add_index(Ticket.index(Ticket.contact, Ticket.connection, unique=True, where=(Ticket.status != "closed")))


class TicketTag(BaseModel):
    ticket = peewee.ForeignKeyField(Ticket, backref="tag_links", on_delete="CASCADE")
    tag = peewee.ForeignKeyField(Tag, backref="ticket_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("ticket", "tag"), True),)


class TicketEvent(BaseModel):
    """One line of a ticket's history: created, accepted, transferred, closed, reopened..."""

    ticket = peewee.ForeignKeyField(Ticket, backref="events", on_delete="CASCADE")
    kind = peewee.CharField(max_length=30)
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    data = JSONField(default=dict)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ticket", "created_at"), False),)


class TicketNote(BaseModel):
    ticket = peewee.ForeignKeyField(Ticket, backref="notes", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    body = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)



def find_or_open_ticket(contact: Contact, connection: Connection | None, is_group: bool = False) -> tuple[Ticket, bool]:
    """The contact's live (pending or open) ticket on this connection, or a new pending one.

    Returns (ticket, created). A partial unique index allows one live ticket per contact and
    connection, so two messages racing for a new contact end up in the same ticket.
    """
    live = Ticket.select().where(
        Ticket.contact == contact, Ticket.connection == connection, Ticket.status != "closed"
    )
    ticket = live.first()
    if ticket is not None:
        return ticket, False
    try:
        with database.atomic():
            ticket = Ticket.create(
                company=contact.company_id,
                contact=contact,
                connection=connection,
                queue=connection.default_queue_id if connection else None,
                is_group=is_group,
            )
            TicketEvent.create(ticket=ticket, kind="created", data={"reason": "inbound"})
    except peewee.IntegrityError:
        return live.get(), False
    return ticket, True
