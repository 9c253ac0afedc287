"""A contact changed by what WhatsApp showed of them (a new profile picture, a group's new name), told to the
clients: `contact:update` with the contact, and `ticket:update` of their live tickets, whose contact the clients
show beside each conversation. Sent after the change commits (`publish`)."""

from __future__ import annotations

from api.contact_json import contact_json
from api.ticket_json import tickets_json
from db.contacts import Contact
from db.tickets import Ticket
from workers.events import publish


def announce_contact_change(contact_id: int) -> None:
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        return
    publish("contact:update", contact.company_id, contact_json(contact))
    live = list(Ticket.select().where(Ticket.contact == contact_id, Ticket.status != "closed"))
    shapes = tickets_json(live, {contact.id: contact})
    for ticket in live:
        publish("ticket:update", ticket.company_id, shapes[ticket.id], ticket=ticket)
