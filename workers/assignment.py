"""Automatic assignment, as Chatwoot's auto-assignment: a ticket that comes to wait in a queue with
`auto_assign` goes at once to one of the queue's available agents (active, online, under their
`max_open_tickets`): the one with the fewest open tickets, and of those the one given a ticket longest ago.
With no agent available it waits, pending, until the scheduler finds one (`assign_waiting_tickets`: an agent
who came online, or whose open tickets went under their limit).

A ticket comes to wait in a queue when a contact opens it in the connection's default queue, when their
menu answer routes it, and when an agent, a program or a bot transfers it to a queue without naming an
agent. A queue with a menu is left alone while its menu is still to be answered.

Before any queue, a contact with an owner (`Contact.owner`, Whaticket's portfolio) has their new tickets
given to that agent (`assign_to_owner`).
"""

from __future__ import annotations

import datetime as dt

from peewee import fn

from api.ticket_json import tickets_json
from db.base import database, locked, utcnow
from db.company_settings import company_setting
from db.contacts import Contact
from db.queues import Queue, UserQueue
from db.tickets import Ticket
from db.users import User
from workers.events import publish
from workers.messages import Outbound, write_outbound
from workers.notifications import notify
from workers.templating import render_template, ticket_variables


def available_agent(queue_id: int) -> int | None:
    """The queue's agent to give the next ticket, or None. Call in a transaction: the candidates' rows are
    locked (in id order), so two tickets assigned at once count each other's agent's open tickets."""
    members = UserQueue.select(UserQueue.user).where(UserQueue.queue == queue_id)
    candidates = list(locked(User.select(User.id, User.max_open_tickets, User.last_assigned_at).where(
        User.id.in_(members), User.active == True, User.online_status == "online"  # noqa: E712 (SQL)
    ).order_by(User.id)))
    if not candidates:
        return None
    open_counts = dict(Ticket.select(Ticket.user, fn.COUNT(Ticket.id)).where(
        Ticket.user.in_([c.id for c in candidates]), Ticket.status == "open").group_by(Ticket.user).tuples())
    free = [c for c in candidates if c.max_open_tickets is None or open_counts.get(c.id, 0) < c.max_open_tickets]
    if not free:
        return None
    return min(free, key=lambda c: (open_counts.get(c.id, 0), c.last_assigned_at or dt.datetime.min, c.id)).id


def at_ticket_limit(user: User) -> int | None:
    """How many open tickets the agent has when that is their `max_open_tickets` or more: no more for them now.
    None while they may take another."""
    if user.max_open_tickets is None:
        return None
    open_count = Ticket.select().where(Ticket.user == user.id, Ticket.status == "open").count()
    return open_count if open_count >= user.max_open_tickets else None


def announce_ticket(ticket: Ticket) -> None:
    """After the commit: the ticket as it is now, to its realtime clients and webhooks (`ticket:update`)."""
    publish("ticket:update", ticket.company_id, tickets_json([ticket])[ticket.id], ticket=ticket)


def assign_waiting_ticket(ticket: Ticket) -> bool:
    """In the caller's transaction: give a ticket waiting in an auto-assigning queue without a menu to an
    available agent, on the row and on `ticket`; False when it stays waiting. The caller announces it."""
    if ticket.status != "pending" or ticket.user_id is not None or ticket.queue_id is None:
        return False
    queue = Queue.get_or_none(Queue.id == ticket.queue_id)
    if queue is None or not queue.auto_assign or queue.menu_options:
        return False
    with database.atomic():
        agent_id = available_agent(queue.id)
        return agent_id is not None and give(ticket, agent_id, "auto")


def transfer(ticket: Ticket, by_user_id: int | None, queue_id: int | None, user_id: int | None) -> None:
    """In the caller's transaction: `Ticket.transfer`, and then the agent named is told, or else a queue that gives
    its tickets to its agents gives it to one. The caller announces it."""
    ticket.transfer(by_user_id, queue_id, user_id)
    if user_id is not None:
        notify([user_id], "assigned", ticket, by_user_id, reason="transfer")
    else:
        assign_waiting_ticket(ticket)


def handover_notice(ticket_id: int, setting: str) -> Outbound | None:
    """In the caller's transaction: the company's `accepted_message` or `transferred_message` (Whaticket's greeting on
    acceptance, and its message on a transfer) for the ticket's contact, filled in for the ticket as it is now
    (`{{agent}}` its agent, `{{queue}}` its queue), to dispatch once it commits; none where the company set none, or
    in a group. The platform's words, not the agent's: no answer to the contact for the SLA and the reply times."""
    ticket = Ticket.select(Ticket, Contact).join(Contact).where(Ticket.id == ticket_id).get()
    text = company_setting(ticket.company_id, setting)
    if not text or ticket.is_group or ticket.connection_id is None:
        return None
    agent = User.get_by_id(ticket.user_id).name if ticket.user_id else ""
    return write_outbound(ticket, render_template(text, ticket_variables(ticket, agent)))


def assign_to_owner(ticket: Ticket, contact: Contact) -> bool:
    """In the caller's transaction: a new ticket of a contact with an owner (an active user) goes to them at
    once, whatever queue it is in and whatever their limit: the contact is theirs. The caller announces it."""
    if contact.owner_id is None or ticket.status != "pending" or ticket.user_id is not None:
        return False
    if not User.select().where(User.id == contact.owner_id, User.active == True).exists():  # noqa: E712
        return False
    with database.atomic():
        return give(ticket, contact.owner_id, "owner")


def give(ticket: Ticket, agent_id: int, reason: str) -> bool:
    """The waiting ticket opens as the agent's (on the row and on `ticket`), recorded with the reason; False
    when someone took it meanwhile."""
    now = utcnow()
    taken = Ticket.update(status="open", user=agent_id, updated_at=now).where(
        Ticket.id == ticket.id, Ticket.status == "pending", Ticket.user.is_null()).execute()
    if not taken:
        return False
    User.update(last_assigned_at=now).where(User.id == agent_id).execute()
    ticket.status, ticket.user, ticket.updated_at = "open", agent_id, now
    ticket.record("assigned", None, userId=agent_id, queueId=ticket.queue_id, reason=reason)
    notify([agent_id], "assigned", ticket, reason=reason)
    return True


def assign_waiting_tickets(limit: int = 200) -> int:
    """Scheduler job: the tickets waiting in auto-assigning queues, oldest first, to the agents available now;
    a queue with no agent left is not asked again this run. Returns how many were assigned."""
    waiting = (Ticket.select().join(Queue, on=(Ticket.queue == Queue.id))
               .where(Queue.auto_assign == True, Ticket.status == "pending", Ticket.user.is_null())  # noqa: E712
               .order_by(Ticket.created_at, Ticket.id).limit(limit))
    assigned, exhausted = 0, set()
    for ticket in waiting:
        if ticket.queue_id in exhausted:
            continue
        if assign_waiting_ticket(ticket):
            announce_ticket(ticket)
            assigned += 1
        else:
            exhausted.add(ticket.queue_id)
    return assigned
