"""Automatic assignment: a ticket that comes to wait in an auto-assigning queue goes to its available agent
with the fewest open tickets (workers/assignment.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from db.base import utcnow
from db.messages import Message
from db.notifications import Notification
from db.queues import UserQueue
from db.tickets import Ticket, TicketEvent
from db.users import User
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from workers.assignment import assign_waiting_tickets
from workers.inbound import handle_inbound
from workers.transports.base import InboundMessage


def inbound(connection, body: str, wa_id: str, phone: str = "5511987654321") -> dict:
    event = InboundMessage(connection.id, wa_id=wa_id, chat=phone, sender=phone, sender_name="Ana Lima", body=body,
                           timestamp=1_800_000_000.0)
    return handle_inbound.fn(event.to_dict())


@pytest.fixture
def queue(factories, company):
    return factories.queue(company, auto_assign=True)


def agent(factories, company, queue, **fields):
    user = factories.user(company, role="agent", **{"online_status": "online", **fields})
    UserQueue.create(user=user, queue=queue)
    return user


def test_a_new_ticket_goes_to_the_online_agent_with_the_fewest_open_tickets(factories, company, queue, broker):
    busy, free = agent(factories, company, queue), agent(factories, company, queue)
    agent(factories, company, queue, online_status="offline")
    factories.ticket(company, queue=queue, user=busy, status="open")
    connection = factories.connection(company, default_queue=queue)

    ticket = Ticket.get_by_id(inbound(connection, "oi", "IN1")["ticketId"])

    assert (ticket.status, ticket.user_id) == ("open", free.id)
    event = TicketEvent.get(TicketEvent.ticket == ticket.id, TicketEvent.kind == "assigned")
    assert event.data == {"userId": free.id, "queueId": queue.id, "reason": "auto"}


def test_of_agents_as_busy_the_one_given_a_ticket_longest_ago_gets_it(factories, company, queue, broker):
    recent = agent(factories, company, queue, last_assigned_at=utcnow())
    earlier = agent(factories, company, queue, last_assigned_at=utcnow() - dt.timedelta(hours=1))
    connection = factories.connection(company, default_queue=queue)

    first = Ticket.get_by_id(inbound(connection, "oi", "IN1", "5511900000001")["ticketId"])
    second = Ticket.get_by_id(inbound(connection, "oi", "IN2", "5511900000002")["ticketId"])

    assert (first.user_id, second.user_id) == (earlier.id, recent.id)


def test_with_no_agent_available_the_ticket_waits(factories, company, queue, broker):
    factories.ticket(company, queue=queue, status="open", user=agent(factories, company, queue, max_open_tickets=1))
    connection = factories.connection(company, default_queue=queue)

    ticket = Ticket.get_by_id(inbound(connection, "oi", "IN1")["ticketId"])

    assert (ticket.status, ticket.user_id) == ("pending", None)


def test_a_queue_that_does_not_auto_assign_leaves_its_tickets_waiting(factories, company, broker):
    manual = factories.queue(company)
    agent(factories, company, manual)

    ticket = Ticket.get_by_id(inbound(factories.connection(company, default_queue=manual), "oi", "IN1")["ticketId"])

    assert (ticket.status, ticket.user_id) == ("pending", None)


def test_a_menu_answer_and_a_transfer_to_the_queue_assign_too(client, admin_headers, factories, company, queue,
                                                              broker):
    seller = agent(factories, company, queue)
    reception = factories.queue(company, auto_assign=True,
                                menu_options=[{"option": "1", "label": "Vendas", "queueId": queue.id}])
    agent(factories, company, reception)  # a queue with a menu routes; it does not assign
    connection = factories.connection(company, default_queue=reception)
    routed = inbound(connection, "oi", "IN1")["ticketId"]
    assert Ticket.get_by_id(routed).status == "pending"

    inbound(connection, "1", "IN2")
    waiting = factories.ticket(company, queue=factories.queue(company))
    transferred = client.post(f"/api/tickets/{waiting.id}/transfer", headers=admin_headers,
                              json={"queueId": queue.id}).get_json()

    assert (Ticket.get_by_id(routed).user_id, Ticket.get_by_id(routed).queue_id) == (seller.id, queue.id)
    assert (transferred["status"], transferred["userId"]) == ("open", seller.id)


def test_a_waiting_ticket_goes_to_an_agent_who_comes_online_on_the_scheduler_s_next_round(factories, company, queue,
                                                                                           broker):
    later = agent(factories, company, queue, online_status="offline")
    connection = factories.connection(company, default_queue=queue)
    first, second = (inbound(connection, "oi", f"IN{n}", f"55119000000{n}")["ticketId"] for n in (1, 2))
    assert assign_waiting_tickets() == 0

    User.update(online_status="online", max_open_tickets=1).where(User.id == later.id).execute()

    assert assign_waiting_tickets() == 1
    assert [Ticket.get_by_id(t).user_id for t in (first, second)] == [later.id, None]  # the oldest, then full


def test_a_contact_s_owner_gets_their_new_tickets_with_no_menu_to_answer(factories, company, broker):
    owner = factories.user(company, role="agent", online_status="offline", max_open_tickets=1)
    factories.ticket(company, user=owner, status="open")  # their limit does not count: the contact is theirs
    reception = factories.queue(company, greeting="Olá!", menu_options=[
        {"option": "1", "label": "Vendas", "queueId": factories.queue(company).id}])
    connection = factories.connection(company, default_queue=reception)
    factories.contact(company, phone="+5511987654321", owner=owner)

    ticket = Ticket.get_by_id(inbound(connection, "oi", "IN1")["ticketId"])

    assert (ticket.status, ticket.user_id) == ("open", owner.id)
    assert TicketEvent.get(TicketEvent.kind == "assigned").data["reason"] == "owner"
    assert not Message.select().where(Message.direction == "out").exists()  # neither the queue's greeting nor its menu


def test_a_ticket_given_by_its_menu_or_to_the_contact_s_owner_is_pushed_to_them_once(factories, company, queue, broker,
                                                                                  realtime):  # noqa: F811
    seller, owner = agent(factories, company, queue), factories.user(company, role="agent")
    reception = factories.queue(company, menu_options=[{"option": "1", "label": "Vendas", "queueId": queue.id}])
    connection = factories.connection(company, default_queue=reception)
    factories.contact(company, phone="+5511900000002", owner=owner)

    routed = inbound(connection, "oi", "IN1", "5511900000001")["ticketId"]
    inbound(connection, "1", "IN2", "5511900000001")
    owned = inbound(connection, "oi", "IN3", "5511900000002")["ticketId"]

    told = {(n.user_id, n.ticket_id, n.data["reason"]): n.id for n in Notification.select()}
    assert set(told) == {(seller.id, routed, "auto"), (owner.id, owned, "owner")}
    assert sorted(data["id"] for event, data in realtime() if event == "notification:new") == sorted(told.values())
