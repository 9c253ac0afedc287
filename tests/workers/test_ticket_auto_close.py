"""Auto-close: the scheduler job closes, through Ticket.close, the tickets idle past the company's setting."""

from __future__ import annotations

import datetime as dt

from api.ticket_json import ticket_out
from db.base import utcnow
from db.company_settings import save_company_settings
from db.tickets import Ticket, TicketEvent
from db.webhooks import WebhookDelivery
from scheduler.jobs import enqueue_ticket_auto_close
from workers.maintenance import close_inactive_tickets, wake_snoozed_tickets


def idle_ticket(factories, company, hours: float, **fields) -> Ticket:
    ticket = factories.ticket(company, **fields)
    Ticket.update(updated_at=utcnow() - dt.timedelta(hours=hours)).where(Ticket.id == ticket.id).execute()
    return ticket


def test_tickets_idle_past_the_setting_are_closed_with_their_history(factories, broker, worker):
    company, other = factories.company(), factories.company()
    save_company_settings(company.id, {"auto_close_after_hours": 2})
    stale_open = idle_ticket(factories, company, 3, status="open")
    stale_pending = idle_ticket(factories, company, 3, status="pending")
    recent = idle_ticket(factories, company, 1, status="open")
    never_closes = idle_ticket(factories, other, 300, status="open")  # its company keeps the default, 0
    factories.webhook(company, events=["ticket:update"])

    assert enqueue_ticket_auto_close() == 1
    broker.join("maintenance", timeout=10_000)  # not worker.join(): a delivery's retry to the public URL waits 30 s

    statuses = {ticket.id: ticket.status for ticket in Ticket.select()}
    assert statuses == {
        stale_open.id: "closed",
        stale_pending.id: "closed",
        recent.id: "open",
        never_closes.id: "open",
    }
    closed_events = TicketEvent.select().where(TicketEvent.kind == "closed")
    assert sorted(event.ticket_id for event in closed_events) == sorted([stale_open.id, stale_pending.id])
    assert Ticket.get_by_id(stale_open.id).closed_at is not None
    announced = {delivery.payload["data"]["id"]: delivery.payload["data"] for delivery in WebhookDelivery.select()}
    assert announced.keys() == {stale_open.id, stale_pending.id}
    closed = ticket_out(Ticket.get_by_id(stale_open.id)).to_json()
    assert announced[stale_open.id] == {**closed, "closedBy": "auto-close"}  # the API's shape, and who closed it


def test_a_company_that_turns_auto_close_off_enqueues_nothing(factories, broker):
    company = factories.company()
    save_company_settings(company.id, {"auto_close_after_hours": 2})
    save_company_settings(company.id, {"auto_close_after_hours": 0})

    assert enqueue_ticket_auto_close() == 0


def test_a_snoozed_ticket_is_not_idle_before_it_wakes_and_its_idle_hours_count_from_then(factories, broker):
    company = factories.company()
    save_company_settings(company.id, {"auto_close_after_hours": 2})
    until_a_reply, until_a_time = factories.ticket(company, status="open"), factories.ticket(company, status="open")
    until_a_reply.snooze(None, None)
    until_a_time.snooze(None, utcnow() + dt.timedelta(hours=1))
    Ticket.update(updated_at=utcnow() - dt.timedelta(hours=30)).execute()  # snoozed long ago
    Ticket.update(snoozed_until=utcnow() - dt.timedelta(minutes=1)).where(Ticket.id == until_a_time.id).execute()

    assert close_inactive_tickets(company.id) == {"closed": 0}
    wake_snoozed_tickets()

    assert close_inactive_tickets(company.id) == {"closed": 0}  # just woken: touched now
    Ticket.update(updated_at=utcnow() - dt.timedelta(hours=3)).execute()
    assert close_inactive_tickets(company.id) == {"closed": 1}
    assert Ticket.get_by_id(until_a_time.id).status == "closed" and Ticket.get_by_id(until_a_reply.id).status == "open"
