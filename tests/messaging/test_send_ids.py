"""A transport that cannot send with our WhatsApp id (neonize 0.5) answers with WhatsApp's; receipts then match."""

from __future__ import annotations

from db.messages import Message
from db.tickets import find_or_open_ticket
from tests.messaging.sessions import session_on
from workers.acks import apply_receipts
from workers.inbound import upsert_contact
from workers.messages import send_message, write_outbound
from workers.transports.base import OutgoingMessage, Receipt, TransportError, send_each


class ChoosesItsOwnIds:
    """A transport at its boundary: WhatsApp picks the id, as with neonize 0.5.2."""

    connection_id = 0

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> str:
        self.sent.append(message)
        return f"WHATSAPP-{len(self.sent)}"

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | TransportError]:
        return send_each(self, messages)


def test_the_id_whatsapp_gave_replaces_ours_and_its_receipts_apply(factories, database):
    company = factories.company()
    connection = factories.connection(company)
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", None, False), connection)
    message = write_outbound(ticket, "hello").message
    transport = ChoosesItsOwnIds()
    with session_on(connection.id, transport):
        send_message.fn(message.id)

    apply_receipts.fn(Receipt(connection.id, wa_ids=("WHATSAPP-1",), status="read").to_dict())

    sent = Message.get_by_id(message.id)
    assert (sent.wa_id, sent.status) == ("WHATSAPP-1", "read")
    assert transport.sent[0].wa_id == message.wa_id  # it was asked to use ours
