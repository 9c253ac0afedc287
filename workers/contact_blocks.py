"""A contact blocked in Wharf is blocked on WhatsApp too (Evolution API's `updateBlockStatus`), and unblocked with it.

Wharf's own block (`Contact.blocked`) sends the contact nothing and drops their messages; WhatsApp's stops them
writing to, calling and seeing the number at all. Each of the company's numbers that has talked with the contact (a
ticket on the connection: one they wrote to, or a campaign's) blocks them, by `apply_block` on the connection's send
queue, queued once the change has committed. The actor makes WhatsApp match the contact as it is when it runs, not
as it was when queued: an unblock that overtakes its block, a retry and a redelivery all end in the latest state. A
session that is down catches up: a stopped connection's queue keeps the message until it starts (a day at most),
and a dropped session's retries back off to 10 minutes, for about three hours. Groups cannot be blocked on WhatsApp:
a group's contact is blocked in Wharf only.
"""

from __future__ import annotations

import dramatiq

from db.contacts import Contact
from db.tickets import Ticket
from workers.chat_actions import OPTIONS, enqueue_on_session, on_session

BLOCK_OPTIONS = {**OPTIONS, "max_retries": 20, "max_backoff": 600_000}


@dramatiq.actor(**BLOCK_OPTIONS)
def apply_block(connection_id: int, contact_id: int) -> None:
    """Block the contact on the connection's number if they are blocked now, else unblock them."""
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None or contact.is_group:
        return
    with on_session(connection_id) as session:
        session.set_blocked(contact.phone.lstrip("+"), contact.blocked)


def block_on_whatsapp(contact: Contact) -> None:
    """Queue, on each connection that has talked with the contact, making WhatsApp block or unblock them as they are
    now; call once the change has committed."""
    if contact.is_group:
        return
    talked = Ticket.select(Ticket.connection).distinct().where(Ticket.contact == contact.id,
                                                                Ticket.connection.is_null(False))
    for (connection_id,) in talked.tuples():
        enqueue_on_session(apply_block, connection_id, contact.id)
