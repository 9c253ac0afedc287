"""A ticket's last message is its newest, whatever order its messages are recorded in."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from db.base import database
from db.contacts import Contact
from db.messages import Message
from db.tickets import Ticket
from tests.workers.import_helpers import on_sqlite
from workers.inbound import handle_inbound_batch
from workers.messages import write_outbound
from workers.transports.base import InboundMessage

ANA = "5511900000001"


def inbound(connection, wa_id: str, body: str, timestamp: float) -> dict:
    return InboundMessage(connection.id, wa_id=wa_id, chat=ANA, sender=ANA, body=body, timestamp=timestamp).to_dict()


def ticket_of_ana() -> Ticket:
    return Ticket.get(Ticket.contact == Contact.get(Contact.phone == f"+{ANA}").id)


def reply(body: str) -> None:
    """An agent's reply on Ana's ticket, written now."""
    with database.atomic():
        write_outbound(ticket_of_ana(), body)


@pytest.fixture
def connection(factories):
    return factories.connection(factories.company())


def test_a_batch_recorded_after_a_newer_one_leaves_the_newer_last_message(connection, broker):
    at = time.time()
    handle_inbound_batch.fn([inbound(connection, "3EB0F", "msg 15", at + 15)])

    handle_inbound_batch.fn([inbound(connection, "3EB07", "msg 7", at + 7), inbound(connection, "3EB06", "msg 6", at + 6)])

    ticket = ticket_of_ana()
    assert (ticket.unread_messages, ticket.last_message) == (3, "msg 15")
    assert ticket.last_message_at == dt.datetime.fromtimestamp(at + 15, dt.UTC).replace(tzinfo=None)


def test_the_newest_message_of_a_batch_is_the_last_whatever_its_place(connection, broker):
    at = time.time()

    handle_inbound_batch.fn([inbound(connection, "3EB02", "msg 2", at + 2), inbound(connection, "3EB01", "msg 1", at + 1)])

    assert (ticket_of_ana().unread_messages, ticket_of_ana().last_message) == (2, "msg 2")


def test_an_inbound_message_recorded_after_a_newer_reply_leaves_the_reply_last(connection, broker):
    handle_inbound_batch.fn([inbound(connection, "3EB01", "oi", time.time() - 1)])
    reply("Olá, Ana!")

    handle_inbound_batch.fn([inbound(connection, "3EB02", "tudo bem?", time.time() - 0.02)])

    assert (ticket_of_ana().unread_messages, ticket_of_ana().last_message) == (2, "Olá, Ana!")


def test_a_reply_written_before_a_newer_inbound_message_leaves_that_message_last(connection, broker):
    handle_inbound_batch.fn([inbound(connection, "3EB01", "oi", time.time() + 5)])  # WhatsApp's clock ahead of ours

    reply("Olá, Ana!")

    assert ticket_of_ana().last_message == "oi"


def test_the_last_message_moves_only_forward_on_sqlite_too(tmp_path, factories, broker):
    with on_sqlite(tmp_path):
        connection = factories.connection(factories.company())
        at = time.time()
        handle_inbound_batch.fn([inbound(connection, "3EB02", "msg 2", at - 1)])
        handle_inbound_batch.fn([inbound(connection, "3EB01", "msg 1", at - 2)])
        assert ticket_of_ana().last_message == "msg 2"

        reply("Olá, Ana!")
        handle_inbound_batch.fn([inbound(connection, "3EB03", "msg 3", at - 0.5)])

        assert (ticket_of_ana().unread_messages, ticket_of_ana().last_message) == (3, "Olá, Ana!")


def test_a_shared_card_or_place_shows_in_its_ticket_by_its_name_not_its_vcard():
    card = Message(type="contact", body="BEGIN:VCARD\nFN:Ana\nEND:VCARD", contact_card={"name": "Ana", "phone": "+5511"})
    place = Message(type="location", body="Av. Paulista\n-23.5,-46.6",
                    location={"latitude": -23.5, "longitude": -46.6, "name": None, "address": "Av. Paulista"})
    pin = Message(type="location", body="-23.5,-46.6",
                  location={"latitude": -23.5, "longitude": -46.6, "name": None, "address": None})

    assert [message.preview() for message in (card, place, pin)] == ["👤 Ana", "📍 Av. Paulista", "📍 -23.5,-46.6"]
