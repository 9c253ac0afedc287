"""Snoozed tickets wake when their time comes: the scheduler's `wake_snoozed_tickets`, every minute."""

from __future__ import annotations

import datetime as dt

from api.ticket_json import ticket_out
from db.base import utcnow
from db.tickets import Ticket, TicketEvent
from db.webhooks import WebhookDelivery
from scheduler.jobs import PERIODIC_JOBS
from workers.maintenance import wake_snoozed_tickets


def snoozed_ticket(factories, company, until: dt.datetime | None) -> Ticket:
    """An open ticket snoozed until `until` (set in the past afterwards: a snooze asks for the future)."""
    ticket = factories.ticket(company, status="open")
    ticket.snooze(None, until)
    return ticket


def test_the_tickets_whose_time_came_wake_recorded_and_announced(factories, broker):
    company = factories.company()
    due = snoozed_ticket(factories, company, utcnow() + dt.timedelta(hours=1))
    Ticket.update(snoozed_until=utcnow() - dt.timedelta(seconds=1)).where(Ticket.id == due.id).execute()
    later = snoozed_ticket(factories, company, utcnow() + dt.timedelta(hours=1))
    until_a_reply = snoozed_ticket(factories, company, None)
    factories.webhook(company, events=["ticket:update"])

    assert wake_snoozed_tickets() == {"woken": 1}
    assert wake_snoozed_tickets() == {"woken": 0}

    woken = Ticket.get_by_id(due.id)
    assert (woken.snoozed_at, woken.snoozed_until, woken.status) == (None, None, "open")
    assert Ticket.get_by_id(later.id).snoozed_until is not None and Ticket.get_by_id(until_a_reply.id).snoozed_at
    woke = TicketEvent.select().where(TicketEvent.kind == "woke")
    assert [(event.ticket_id, event.data) for event in woke] == [(due.id, {"reason": "time"})]
    assert [delivery.payload["data"] for delivery in WebhookDelivery.select()] == [ticket_out(woken).to_json()]


def test_the_scheduler_wakes_them_every_minute():
    assert {job.id: job.seconds for job in PERIODIC_JOBS}["wake_snoozed_tickets"] <= 60
