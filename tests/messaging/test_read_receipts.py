"""Read receipts: marking a ticket read shows the contact blue ticks, through the gateway's session."""

from __future__ import annotations

import dramatiq

from db.messages import Message
from db.tickets import Ticket
from tests.waiting import wait_for
from workers.contact_details import check_contact_details
from workers.messages import gateway_queue
from workers.transports import simulator

CUSTOMER = "+5511987654321"


def read_receipts(client, headers, connection, contact: str = CUSTOMER) -> list[str]:
    answer = client.get(f"/api/simulator/{connection.id}/read-receipts", query_string={"contact": contact},
                        headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return [entry["waId"] for entry in answer.get_json()["items"]]


def queued_on_session(broker, connection, *, details_checks: bool = False) -> list[dramatiq.Message]:
    """What waits on the connection's send queue (no gateway is running to take it); the checks of contacts' details
    that a new contact's messages queue (workers/contact_details.py) only if asked for."""
    queued = [dramatiq.Message.decode(data) for data in broker.client.hvals(f"dramatiq:{gateway_queue(connection.id)}.msgs")]
    return [message for message in queued if details_checks or message.actor_name != check_contact_details.actor_name]


def test_marking_a_ticket_read_shows_the_contact_blue_ticks_once(client, admin_headers, connection, worker, gateway):
    for body, wa_id in (("oi", "3EB0FIRST"), ("tudo bem?", "3EB0SECOND")):
        client.post(f"/api/simulator/{connection.id}/inbound", json={"from": CUSTOMER, "body": body, "waId": wa_id},
                    headers=admin_headers)
    assert wait_for(lambda: Message.select().where(Message.direction == "in").count() == 2, timeout=20)
    ticket = Ticket.get()

    answer = client.post(f"/api/tickets/{ticket.id}/read", headers=admin_headers)

    assert answer.status_code == 200 and answer.get_json()["unreadMessages"] == 0
    assert wait_for(lambda: len(read_receipts(client, admin_headers, connection)) == 2, timeout=20)
    assert set(read_receipts(client, admin_headers, connection)) == {"3EB0FIRST", "3EB0SECOND"}
    assert read_receipts(client, admin_headers, connection, contact="+5511900000000") == []

    client.post(f"/api/simulator/{connection.id}/inbound", json={"from": CUSTOMER, "body": "?", "waId": "3EB0THIRD"},
                headers=admin_headers)
    assert wait_for(lambda: Message.select().where(Message.direction == "in").count() == 3, timeout=20)
    client.post(f"/api/tickets/{ticket.id}/read", headers=admin_headers)

    assert wait_for(lambda: len(read_receipts(client, admin_headers, connection)) == 3, timeout=20)
    assert read_receipts(client, admin_headers, connection)[-1] == "3EB0THIRD"


def test_only_what_was_unread_is_sent_and_a_ticket_read_again_sends_nothing(client, admin_headers, factories,
                                                                           company, connection, broker):
    ticket = factories.ticket(company, connection=connection, contact=factories.contact(company, phone=CUSTOMER))
    factories.message(ticket, wa_id="3EB0DELIVERED", status="delivered")
    factories.message(ticket, wa_id="3EB0ALREADYREAD", status="read")
    factories.message(ticket, wa_id="3EB0OURS", direction="out", status="delivered")

    client.post(f"/api/tickets/{ticket.id}/read", headers=admin_headers)
    client.post(f"/api/tickets/{ticket.id}/read", headers=admin_headers)

    [queued] = queued_on_session(broker, connection)
    assert queued.actor_name == "send_read_receipts"
    assert list(queued.args) == [connection.id, "5511987654321", ["3EB0DELIVERED"], None]


def test_a_company_may_keep_read_receipts_off(client, admin_headers, factories, company, connection, broker):
    answer = client.patch("/api/settings", json={"sendReadReceipts": False}, headers=admin_headers)
    assert answer.status_code == 200, answer.get_json()
    ticket = factories.ticket(company, connection=connection, contact=factories.contact(company, phone=CUSTOMER))
    factories.message(ticket, wa_id="3EB0UNREAD", status="delivered")

    client.post(f"/api/tickets/{ticket.id}/read", headers=admin_headers)

    assert Message.get(Message.wa_id == "3EB0UNREAD").status == "read"
    assert queued_on_session(broker, connection) == []


def test_a_groups_read_receipts_go_to_each_member_who_wrote(client, admin_headers, factories, company, connection,
                                                            broker):
    group = factories.contact(company, phone="120363025555555555@g.us", is_group=True)
    ticket = factories.ticket(company, connection=connection, contact=group, is_group=True)
    factories.message(ticket, wa_id="3EB0ANA1", status="delivered", sender_phone="+5511911111111")
    factories.message(ticket, wa_id="3EB0HIDDEN", status="delivered", sender_phone="93847561029384@lid")
    factories.message(ticket, wa_id="3EB0ANA2", status="delivered", sender_phone="+5511911111111")
    factories.message(ticket, wa_id="3EB0UNKNOWN", status="delivered")  # kept before members were

    client.post(f"/api/tickets/{ticket.id}/read", headers=admin_headers)

    assert Message.select().where(Message.status == "read").count() == 4
    assert sorted(list(queued.args) for queued in queued_on_session(broker, connection)) == [
        [connection.id, "120363025555555555@g.us", ["3EB0ANA1", "3EB0ANA2"], "5511911111111"],
        [connection.id, "120363025555555555@g.us", ["3EB0HIDDEN"], "93847561029384@lid"]]


def test_a_number_that_reads_messages_as_they_come_shows_blue_ticks_at_once(client, admin_headers, connection, worker,
                                                                           gateway, redis_client):
    answer = client.patch(f"/api/connections/{connection.id}", json={"readMessages": True}, headers=admin_headers)
    assert answer.status_code == 200 and answer.get_json()["readMessages"] is True
    client.post(f"/api/simulator/{connection.id}/inbound", json={"from": CUSTOMER, "body": "oi", "waId": "3EB0BOT"},
                headers=admin_headers)
    client.post(f"/api/simulator/{connection.id}/inbound", json={
        "from": "+5511912345678", "body": "bom dia", "waId": "3EB0GROUP", "group": {"id": "120363012345678901"}},
        headers=admin_headers)

    assert wait_for(lambda: read_receipts(client, admin_headers, connection) == ["3EB0BOT"], timeout=20)
    in_group = lambda: simulator.read_receipts(redis_client, connection.id, "120363012345678901@g.us")  # noqa: E731
    assert wait_for(lambda: [(e["waId"], e["sender"]) for e in in_group()] == [("3EB0GROUP", "5511912345678")],
                    timeout=20)
    message = Message.get(Message.wa_id == "3EB0BOT")
    assert message.status == "read" and message.read_at is not None
    ticket = Ticket.get_by_id(message.ticket_id)
    assert ticket.unread_messages == 1  # the agents have not read it

    client.post(f"/api/tickets/{ticket.id}/read", headers=admin_headers)
    assert Ticket.get_by_id(ticket.id).unread_messages == 0
    assert read_receipts(client, admin_headers, connection) == ["3EB0BOT"]  # no second receipt
