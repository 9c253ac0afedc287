"""What the platform answers by itself when a contact writes: greetings, the queue menu, out of hours.

A new ticket lands in its connection's default queue. If that queue is closed now (business
hours, in the company's timezone) the contact gets the out-of-hours message; otherwise the
queue's greeting, followed by its menu ("1 - Sales") when it has one, or else the connection's
greeting. While the ticket waits in a queue with a menu, an answer that names an option moves
it to that option's queue, which greets in turn.
"""

from __future__ import annotations

from db.base import database
from db.company_settings import company_setting, company_settings
from db.connections import Connection
from db.contacts import Contact
from db.messages import Message, followed_up
from db.queue_rules import is_open, route_menu_choice
from db.queues import Queue
from db.tickets import Ticket
from workers.assignment import announce_ticket, assign_to_owner, assign_waiting_ticket, transfer
from workers.messages import auto_reply_key, dispatch_outbound, queue_outbound_text, write_outbound
from workers.templating import render_template


def menu_text(queue: Queue) -> str:
    return "\n".join(f"{option['option']} - {option['label']}" for option in queue.menu_options)


def greeting_for(queue: Queue | None, connection: Connection, greet: bool = True) -> str:
    """The queue's (else the connection's) greeting and the queue's menu; only the menu, which routes, when the
    company sends no greetings (the `greeting_enabled` setting)."""
    if queue is None:
        return connection.greeting_message if greet else ""
    parts = [queue.greeting or connection.greeting_message] if greet else []
    if queue.menu_options:
        parts.append(menu_text(queue))
    return "\n\n".join(part for part in parts if part)


def personal(text: str, contact: Contact) -> str:
    name = contact.name or ""
    return render_template(text, {"name": name, "firstName": name.split(" ")[0] if name else ""})


def answer_new_ticket(ticket: Ticket, connection: Connection, contact: Contact, message: Message) -> None:
    """The greeting (with the queue's menu) or the out-of-hours message for the ticket `message` opened, which
    goes to the contact's owner, or else to an available agent of an auto-assigning queue."""
    owned = assign_to_owner(ticket, contact)
    queue, settings = ticket.queue, company_settings(ticket.company_id)
    if queue is not None and not is_open(queue, message.created_at, settings["timezone"]):
        reply = queue.out_of_hours_message if settings["out_of_hours_enabled"] else ""
    else:  # an agent has the ticket (the contact's own, or one an automation rule chose): no menu to route it
        reply = greeting_for(None if ticket.user_id is not None else queue, connection, settings["greeting_enabled"])
    if reply:
        queue_outbound_text(ticket, personal(reply, contact), idempotency_key=auto_reply_key(message))
    if owned or assign_waiting_ticket(ticket):
        announce_ticket(ticket)


def route_menu_answer(ticket: Ticket, connection: Connection, contact: Contact, message: Message) -> bool:
    """Move a waiting ticket to the queue its menu answer picks, and greet there; True when it moved.

    The move, the greeting and the end of the message's pending follow-up (`followed_up`) commit together:
    a redelivery of the message after a crash neither reads it again as an answer to the new queue's menu
    nor loses the greeting (a crash before its send leaves its Job for `requeue_lost_jobs`)."""
    queue = ticket.queue
    if ticket.status != "pending" or ticket.user_id is not None or queue is None or not queue.menu_options:
        return False
    target_id = route_menu_choice(queue, message.body)
    target = Queue.get_or_none(Queue.id == target_id, Queue.company == ticket.company_id) if target_id else None
    if target is None:
        return False
    greet = company_setting(ticket.company_id, "greeting_enabled")
    reply = greeting_for(target, connection, greet) if target.greeting or target.menu_options else ""
    with database.atomic():
        transfer(ticket, None, target.id, None)
        followed_up([message.id])
        key = auto_reply_key(message)
        greeting = write_outbound(ticket, personal(reply, contact), idempotency_key=key) if reply else None
    announce_ticket(ticket)
    if greeting is not None:
        dispatch_outbound(greeting)
    return True
