"""Deleting a message of ours for everyone: WhatsApp removes it from the contact's phone."""

from __future__ import annotations

import pytest

from db.messages import DELETED_PREVIEW, Message
from db.tickets import Ticket
from tests.conftest import running_gateway
from tests.messaging.test_edits import on_last_retry
from tests.waiting import wait_for
from workers.chat_actions import NotCommitted, revoke_message
from workers.message_changes import MessageNotStoredYet, handle_revoke
from workers.transports import simulator
from workers.transports.base import MessageRevoked

CUSTOMER = "+5511987654321"


def send(client, headers, body: str = "Olá!") -> int:
    answer = client.post("/api/messages", json={"to": CUSTOMER, "body": body}, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["id"]


def outbox(redis_client, connection) -> list[dict]:
    return simulator.outbox(redis_client, connection.id)[0]


def test_a_sent_message_deleted_for_everyone_leaves_the_contacts_phone(client, admin_headers, connection,
                                                                      redis_client, worker, gateway):
    message_id = send(client, admin_headers)
    assert wait_for(lambda: Message.get_by_id(message_id).status == "read", timeout=20)

    answer = client.delete(f"/api/messages/{message_id}", headers=admin_headers)

    assert answer.status_code == 200 and answer.get_json()["deletedAt"]
    assert wait_for(lambda: outbox(redis_client, connection)[0]["revokedAt"] is not None, timeout=20)
    again = client.delete(f"/api/messages/{message_id}", headers=admin_headers)
    assert again.status_code == 200 and again.get_json()["deletedAt"] == answer.get_json()["deletedAt"]
    shown = client.get(f"/api/messages/{message_id}", headers=admin_headers).get_json()
    assert (shown["status"], shown["body"], shown["deletedAt"]) == ("read", "Olá!", answer.get_json()["deletedAt"])
    ticket = client.get(f"/api/tickets/{shown['ticketId']}", headers=admin_headers).get_json()
    assert ticket["lastMessage"] == DELETED_PREVIEW  # it was the last message: the ticket list shows it deleted


def test_a_message_deleted_before_it_went_out_is_never_sent(client, admin_headers, connection, redis_client, broker):
    message_id = send(client, admin_headers)  # no gateway yet: it waits on the connection's queue
    kept_id = send(client, admin_headers, "fica")

    assert client.delete(f"/api/messages/{message_id}", headers=admin_headers).status_code == 200

    with running_gateway(broker):
        assert wait_for(lambda: Message.get_by_id(kept_id).status == "sent", timeout=20)  # no worker: no receipts
        assert wait_for(lambda: Message.get_by_id(message_id).status == "failed", timeout=20)
    assert Message.get_by_id(message_id).error == "deleted before it was sent"
    assert [entry["body"] for entry in outbox(redis_client, connection)] == ["fica"]
    assert Ticket.get_by_id(Message.get_by_id(kept_id).ticket_id).last_message == "fica"  # not the deleted one's


def test_only_our_own_messages_of_a_visible_ticket_can_be_deleted(client, app, admin_headers, factories, company,
                                                                   connection):
    colleague = factories.user(company, role="agent")
    ticket = factories.ticket(company, connection=connection, contact=factories.contact(company, phone=CUSTOMER),
                              status="open", user=colleague)
    theirs = factories.message(ticket, status="delivered")
    ours = factories.message(ticket, direction="out", status="sent")
    agent = factories.auth_headers(app, factories.user(company, role="agent"))

    refused = client.delete(f"/api/messages/{theirs.id}", headers=admin_headers)
    hidden = client.delete(f"/api/messages/{ours.id}", headers=agent)

    assert refused.status_code == 409 and refused.get_json()["error"] == "conflict"
    assert hidden.status_code == 404
    assert Message.select().where(Message.deleted_at.is_null(False)).count() == 0


def test_a_message_the_contact_deletes_for_everyone_stays_marked_deleted(client, admin_headers, connection, worker,
                                                                        gateway):
    for body, wa_id in (("oi", "3EB0KEPT"), ("número errado", "3EB0REVOKED")):
        client.post(f"/api/simulator/{connection.id}/inbound", json={"from": CUSTOMER, "body": body, "waId": wa_id},
                    headers=admin_headers)
    assert wait_for(lambda: Message.select().where(Message.direction == "in").count() == 2, timeout=20)

    answer = client.post(f"/api/simulator/{connection.id}/revoke", json={"from": CUSTOMER, "waId": "3EB0REVOKED"},
                         headers=admin_headers)

    assert answer.status_code == 202, answer.get_json()
    assert wait_for(lambda: Message.get(Message.wa_id == "3EB0REVOKED").deleted_at is not None, timeout=20)
    assert Message.get(Message.wa_id == "3EB0KEPT").deleted_at is None
    ticket_id = Message.get(Message.wa_id == "3EB0REVOKED").ticket_id
    listed = client.get(f"/api/tickets/{ticket_id}/messages", headers=admin_headers).get_json()["items"]
    assert {(m["body"], m["deletedAt"] is not None) for m in listed} == {("oi", False), ("número errado", True)}
    assert Ticket.get_by_id(ticket_id).last_message == DELETED_PREVIEW


def test_a_revoke_that_overtakes_its_uncommitted_deletion_retries(factories, company, connection):
    ticket = factories.ticket(company, connection=connection, contact=factories.contact(company, phone=CUSTOMER))
    sent = factories.message(ticket, direction="out", status="sent")

    with pytest.raises(NotCommitted):
        revoke_message.fn(connection.id, sent.id)


def test_a_contacts_revoke_before_its_message_retries_and_is_given_up_once_the_retries_are_spent(connection, broker):
    event = MessageRevoked(connection.id, wa_id="3EB0EARLY", chat=CUSTOMER.lstrip("+")).to_dict()

    with pytest.raises(MessageNotStoredYet):
        handle_revoke.fn(event)

    assert on_last_retry(broker, handle_revoke, event) == {"missing": "3EB0EARLY"}
