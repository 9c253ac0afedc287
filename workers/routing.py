"""What the platform answers by itself when a contact writes: greetings, the queue menu, out of hours.

A new ticket lands in its connection's default queue. If that queue is closed now (business
hours, in the company's timezone) the contact gets the out-of-hours message; otherwise the
queue's greeting, followed by its menu ("1 - Sales") when it has one, or else the connection's
greeting. While the ticket waits in a queue with a menu, an answer that names an option moves
it to that option's queue, which greets in turn.
"""

from __future__ import annotations

import datetime as dt

from db.companies import Company
from db.connections import Connection
from db.contacts import Contact
from db.queue_rules import is_open, route_menu_choice
from db.queues import Queue
from db.tickets import Ticket
from workers.messages import queue_outbound_text
from workers.templating import render_template


def menu_text(queue: Queue) -> str:
    return "\n".join(f"{option['option']} - {option['label']}" for option in queue.menu_options)


def greeting_for(queue: Queue | None, connection: Connection) -> str:
    if queue is None:
        return connection.greeting_message
    parts = [queue.greeting or connection.greeting_message]
    if queue.menu_options:
        parts.append(menu_text(queue))
    return "\n\n".join(part for part in parts if part)


def personal(text: str, contact: Contact) -> str:
    name = contact.name or ""
    return render_template(text, {"name": name, "firstName": name.split(" ")[0] if name else ""})


def answer_new_ticket(ticket: Ticket, connection: Connection, contact: Contact, at: dt.datetime) -> None:
    queue = ticket.queue
    if queue is not None and not is_open(queue, at, Company.get_by_id(ticket.company_id).timezone):
        reply = queue.out_of_hours_message
    else:
        reply = greeting_for(queue, connection)
    if reply:
        queue_outbound_text(ticket, personal(reply, contact))


def route_menu_answer(ticket: Ticket, connection: Connection, contact: Contact, text: str) -> bool:
    """Move a waiting ticket to the queue its menu answer picks; True when it moved."""
    queue = ticket.queue
    if ticket.status != "pending" or ticket.user_id is not None or queue is None or not queue.menu_options:
        return False
    target_id = route_menu_choice(queue, text)
    target = Queue.get_or_none(Queue.id == target_id, Queue.company == ticket.company_id) if target_id else None
    if target is None:
        return False
    ticket.transfer(None, target.id, None)
    reply = greeting_for(target, connection) if target.greeting or target.menu_options else ""
    if reply:
        queue_outbound_text(ticket, personal(reply, contact))
    return True
