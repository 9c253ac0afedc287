"""A snoozed ticket wakes when its contact writes (or calls), in the statement that counts the message unread."""

from __future__ import annotations

import datetime as dt

import pytest

from db.base import utcnow
from db.tickets import Ticket, TicketEvent
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.workers.import_helpers import on_sqlite
from workers.calls import handle_call
from workers.inbound import handle_inbound, handle_inbound_batch, upsert_contact
from workers.transports.base import InboundMessage, IncomingCall

ANA, BIA, CAIO = "5511900000001", "5511900000002", "5511900000003"


@pytest.fixture
def connection(factories):
    return factories.connection(factories.company())


def inbound(connection, wa_id: str, chat: str, **fields) -> dict:
    return InboundMessage(connection.id, wa_id=wa_id, chat=chat, sender=chat, body="oi", timestamp=1_800_000_000.0,
                          **fields).to_dict()


def snoozed(factories, connection, phone: str, until: dt.datetime | None = None) -> Ticket:
    contact = upsert_contact(connection.company_id, f"+{phone}", None, False)
    ticket = factories.ticket(connection.company, contact=contact, connection=connection, status="open")
    ticket.snooze(None, until)
    return ticket


def woke() -> list[tuple[int, dict]]:
    return [(event.ticket_id, event.data) for event in TicketEvent.select().where(TicketEvent.kind == "woke")
            .order_by(TicketEvent.ticket)]


def test_a_batch_wakes_the_snoozed_tickets_its_contacts_wrote_to_once_each(factories, connection, broker,
                                                                          realtime):  # noqa: F811
    ana = snoozed(factories, connection, ANA, utcnow() + dt.timedelta(days=1))
    bia = snoozed(factories, connection, BIA)
    caio = snoozed(factories, connection, CAIO)

    handle_inbound_batch.fn([
        inbound(connection, "3EB01", ANA), inbound(connection, "3EB02", ANA), inbound(connection, "3EB03", BIA),
        inbound(connection, "3EB04", CAIO, from_me=True),  # written from the phone: not the contact
    ])

    assert [Ticket.get_by_id(t.id).snoozed_at is None for t in (ana, bia, caio)] == [True, True, False]
    assert Ticket.get_by_id(ana.id).snoozed_until is None
    assert woke() == [(ana.id, {"reason": "contact"}), (bia.id, {"reason": "contact"})]
    updates = [data for event, data in realtime() if event == "ticket:update"]
    assert {data["id"]: data["snoozedAt"] is None for data in updates} == {ana.id: True, bia.id: True, caio.id: False}


def test_a_single_message_and_a_call_wake_their_tickets_on_sqlite_too(tmp_path, factories, broker):
    with on_sqlite(tmp_path):
        connection = factories.connection(factories.company())
        ana, bia = snoozed(factories, connection, ANA), snoozed(factories, connection, BIA)

        handle_inbound.fn(inbound(connection, "3EB01", ANA))
        handle_call.fn(IncomingCall(connection.id, call_id="2F1C0B6A", chat=BIA, timestamp=1_800_000_000.0).to_dict())

        assert woke() == [(ana.id, {"reason": "contact"}), (bia.id, {"reason": "contact"})]
        assert Ticket.select().where(Ticket.snoozed_at.is_null(False)).count() == 0
