"""The pipeline on real parts: API → send_message on the gateway → simulator → receipts → read; inbound → ticket."""

from __future__ import annotations

from db.connections import Connection
from db.messages import Message
from db.tickets import Ticket
from tests.waiting import wait_for
from workers.transports import simulator


def status_of(message_id: int) -> str:
    return Message.get_by_id(message_id).status


def test_a_message_to_a_phone_is_sent_once_and_reaches_read(client, admin_headers, connection, redis_client,
                                                           worker, gateway):
    answer = client.post("/api/messages", json={"to": "(11) 98765-4321", "body": "Olá!"}, headers=admin_headers)

    assert answer.status_code == 202, answer.get_json()
    sent = answer.get_json()
    assert sent["status"] == "queued" and sent["jobId"]
    assert wait_for(lambda: status_of(sent["id"]) == "read", timeout=20)
    message = Message.get_by_id(sent["id"])
    assert message.sent_at and message.delivered_at and message.read_at
    entries, total = simulator.outbox(redis_client, connection.id)
    assert total == 1
    assert entries[0]["waId"] == message.wa_id and entries[0]["to"] == "+5511987654321"
    assert entries[0]["body"] == "Olá!"
    shown = client.get(f"/api/messages/{sent['id']}", headers=admin_headers).get_json()
    assert shown["status"] == "read" and shown["readAt"] and shown["direction"] == "out"


def test_a_number_not_on_whatsapp_fails_with_the_reason_and_no_retry(client, admin_headers, connection,
                                                                   redis_client, worker, gateway):
    simulator.configure(redis_client, connection.id, notOnWhatsapp=["+5511912345678"])

    sent = client.post("/api/messages", json={"to": "+5511912345678", "body": "hi"}, headers=admin_headers)

    assert wait_for(lambda: status_of(sent.get_json()["id"]) == "failed", timeout=20)
    assert "not on WhatsApp" in Message.get_by_id(sent.get_json()["id"]).error
    assert simulator.outbox(redis_client, connection.id)[1] == 0


def test_a_transient_failure_is_retried_with_the_same_whatsapp_id(client, admin_headers, connection,
                                                                  redis_client, worker, gateway):
    simulator.configure(redis_client, connection.id, failRate=1.0)
    sent = client.post("/api/messages", json={"to": "+5511987654321", "body": "hi"}, headers=admin_headers)
    assert wait_for(lambda: status_of(sent.get_json()["id"]) == "sending", timeout=20)

    simulator.configure(redis_client, connection.id, failRate=0.0)

    assert wait_for(lambda: status_of(sent.get_json()["id"]) == "read", timeout=30)
    entries, total = simulator.outbox(redis_client, connection.id)
    assert total == 1 and entries[0]["waId"] == Message.get_by_id(sent.get_json()["id"]).wa_id


def test_an_inbound_message_opens_a_ticket_with_one_message_however_often_it_comes(
    client, admin_headers, connection, redis_client, worker, gateway
):
    for _ in range(3):  # WhatsApp, or a gateway restart, delivers the same message again
        answer = client.post(f"/api/simulator/{connection.id}/inbound",
                             json={"from": "+5511987654321", "body": "preciso de ajuda", "name": "Ana",
                                   "waId": "3EB0DUPLICATE"}, headers=admin_headers)
        assert answer.status_code == 202, answer.get_json()

    assert wait_for(lambda: Message.select().where(Message.wa_id == "3EB0DUPLICATE").exists(), timeout=20)
    worker.join()
    assert Message.select().where(Message.wa_id == "3EB0DUPLICATE").count() == 1
    ticket = Ticket.get()
    assert (ticket.status, ticket.unread_messages, ticket.last_message) == ("pending", 1, "preciso de ajuda")
    assert ticket.contact.phone == "+5511987654321" and ticket.contact.name == "Ana"


def test_a_new_ticket_gets_the_connection_greeting(client, admin_headers, connection, redis_client, worker, gateway):
    Connection.update(greeting_message="Olá! Em que podemos ajudar?").where(Connection.id == connection.id).execute()

    simulator.inject_inbound(redis_client, connection.id, "+5511987654321", "oi")

    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=20)
    assert simulator.outbox(redis_client, connection.id)[0][0]["body"] == "Olá! Em que podemos ajudar?"


def test_the_gateway_reports_the_session_connected(connection, worker, gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    assert Connection.get_by_id(connection.id).phone == f"1555{connection.id:07d}"


def test_a_stopped_connection_is_let_go(client, admin_headers, connection, worker, gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)

    client.post(f"/api/connections/{connection.id}/stop", headers=admin_headers)

    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "stopped", timeout=20)
    assert gateway.sessions.get(connection.id) is None
