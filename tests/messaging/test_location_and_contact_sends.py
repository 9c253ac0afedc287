"""A location or a contact card on its way: built from its row at every attempt (a retry sends the same thing with
the same WhatsApp id), and through the gateway to the simulated contact's phone."""

from __future__ import annotations

from db.messages import Message
from db.tickets import find_or_open_ticket
from tests.messaging.sessions import session_on
from tests.waiting import wait_for
from workers.acks import record_receipt
from workers.inbound import upsert_contact
from workers.messages import send_messages, write_outbound
from workers.transports import simulator
from workers.transports.base import ContactCard, Location, OutgoingMessage, Receipt, TransportError

SHOP = {"latitude": -23.5613, "longitude": -46.6565, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}


class DropsTheFirstAttempt:
    """A transport at its boundary whose first send fails as a dropped connection would."""

    connection_id = 0

    def __init__(self) -> None:
        self.attempts: list[OutgoingMessage] = []

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | TransportError]:
        self.attempts.extend(messages)
        if len(self.attempts) == 1:
            return [TransportError("websocket not connected")]
        return [message.wa_id for message in messages]


def test_a_retry_sends_the_same_location_with_the_same_whatsapp_id_and_its_receipts_show_it(factories, database):
    company = factories.company()
    connection = factories.connection(company)
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", None, False), connection)
    place = Location(**SHOP)
    message = write_outbound(ticket, place.text(), message_type="location", location=place).message
    transport = DropsTheFirstAttempt()

    with session_on(connection.id, transport):
        [failed] = send_messages([message.id])
        [sent] = send_messages([message.id])  # the actor's retry: the row read again

    first, second = transport.attempts
    assert isinstance(failed, TransportError) and sent == {"messageId": message.id, "waId": message.wa_id}
    assert first == second
    assert (first.wa_id, first.location, first.contact_card, first.media) == (message.wa_id, place, None, None)
    assert Message.get_by_id(message.id).status == "sent"
    [(event, _, data, _, _)] = record_receipt(Receipt(connection.id, wa_ids=(message.wa_id,), status="read")
                                              .to_dict()).realtime
    assert (event, data["status"], data["location"], data["contact"]) == ("message:update", "read", SHOP, None)


def test_a_contact_card_sent_by_the_api_reaches_the_contacts_phone_and_read(client, admin_headers, connection,
                                                                          redis_client, worker, gateway):
    answer = client.post("/api/messages", json={"to": "+5511987654321", "contact": {"name": "Ana Souza",
                                                                                    "phone": "+5511912345678"}},
                         headers=admin_headers)
    assert answer.status_code == 202, answer.get_json()
    message_id = answer.get_json()["id"]

    assert wait_for(lambda: Message.get_by_id(message_id).status == "read", timeout=20)
    message = Message.get_by_id(message_id)
    [entry], total = simulator.outbox(redis_client, connection.id)
    assert total == 1
    assert (entry["waId"], entry["type"], entry["body"]) == (message.wa_id, "contact",
                                                            ContactCard("Ana Souza", "+5511912345678").vcard())
    assert (entry["contact"], entry["location"]) == ({"name": "Ana Souza", "phone": "+5511912345678"}, None)
    shown = client.get(f"/api/simulator/{connection.id}/outbox", headers=admin_headers).get_json()["items"]
    assert [(item["type"], item["contact"]) for item in shown] == [
        ("contact", {"name": "Ana Souza", "phone": "+5511912345678"})]


def test_a_location_sent_by_the_api_reaches_the_contacts_phone(client, admin_headers, connection, redis_client,
                                                              worker, gateway):
    answer = client.post("/api/messages", json={"to": "+5511987654321", "location": SHOP}, headers=admin_headers)

    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=20)
    [entry] = simulator.outbox(redis_client, connection.id)[0]
    assert (entry["type"], entry["location"], entry["body"]) == (
        "location", SHOP, "Loja Paulista\nAv. Paulista, 1000\n-23.5613,-46.6565")
    assert entry["waId"] == Message.get_by_id(answer.get_json()["id"]).wa_id
