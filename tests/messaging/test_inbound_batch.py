"""A batch of inbound messages (what the gateway hands over from a transport's backlog), recorded in one go."""

from __future__ import annotations

import json

import dramatiq
import pytest

from api.ticket_json import ticket_out
from db.contacts import Contact
from db.messages import Message
from db.tickets import Ticket, TicketEvent, find_or_open_ticket
from tests.workers.import_helpers import on_sqlite
from wharf.realtime import CHANNEL
from workers.inbound import handle_inbound_batch, upsert_contact
from workers.transports.base import InboundMessage

ANA, BIA, CAIO, DANI = "5511900000001", "5511900000002", "5511900000003", "5511900000004"


def inbound(connection, wa_id: str, chat: str, body: str = "oi", **fields) -> dict:
    return InboundMessage(connection.id, wa_id=wa_id, chat=chat, sender=chat, body=body,
                          timestamp=1_800_000_000.0, **fields).to_dict()


def ticket_of(phone: str) -> Ticket:
    return Ticket.get(Ticket.contact == Contact.get(Contact.phone == f"+{phone}").id)


@pytest.fixture
def connection(factories):
    return factories.connection(factories.company(), greeting_message="Olá!")


@pytest.fixture
def realtime(redis_client):
    """The (event, data) pairs published on the realtime channel, read when called."""
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    pubsub.get_message(timeout=5)  # subscribed before the test acts
    yield lambda: [(item["event"], item["data"][0]) for item in
                   (json.loads(m["data"]) for m in iter(lambda: pubsub.get_message(timeout=0.2), None))]
    pubsub.close()


def test_duplicates_inside_a_batch_and_of_stored_messages_give_one_row_each(connection, broker):
    handle_inbound_batch.fn([inbound(connection, "3EB0A", ANA, "um"), inbound(connection, "3EB0B", ANA, "dois")])

    results = handle_inbound_batch.fn([
        inbound(connection, "3EB0A", ANA, "um"),
        inbound(connection, "3EB0C", ANA, "três"),
        inbound(connection, "3EB0C", ANA, "três"),
        inbound(connection, "3EB0B", ANA, "dois"),
        inbound(connection, "3EB0D", BIA, "oi"),
    ])

    assert [r.get("duplicate") for r in results] == ["3EB0A", None, "3EB0C", "3EB0B", None]
    assert sorted(m.wa_id for m in Message.select().where(Message.direction == "in")) == [
        "3EB0A", "3EB0B", "3EB0C", "3EB0D"]
    ana = ticket_of(ANA)
    assert (ana.unread_messages, ana.last_message) == (3, "três")
    assert handle_inbound_batch.fn([inbound(connection, "3EB0D", BIA)]) == [{"duplicate": "3EB0D"}]


def test_a_blocked_contacts_messages_are_dropped_and_the_others_of_the_batch_recorded(connection, broker, realtime):
    blocked = upsert_contact(connection.company_id, f"+{ANA}", "Ana", False)
    Contact.update(blocked=True).where(Contact.id == blocked.id).execute()

    results = handle_inbound_batch.fn([inbound(connection, "3EB0A", ANA, "oi"), inbound(connection, "3EB0B", BIA, "oi")])

    assert results[0] == {"blocked": "3EB0A"} and results[1]["ticketCreated"]
    assert [m.wa_id for m in Message.select().where(Message.direction == "in")] == ["3EB0B"]
    assert not Ticket.select().where(Ticket.contact == blocked.id).exists()
    assert [data["contact"]["phone"] for event, data in realtime() if event == "ticket:new"] == [f"+{BIA}"]

    Contact.update(blocked=False).where(Contact.id == blocked.id).execute()
    handle_inbound_batch.fn([inbound(connection, "3EB0C", ANA, "voltei")])

    assert ticket_of(ANA).last_message == "voltei"


def test_a_batch_of_new_and_known_contacts_opens_one_ticket_per_contact(connection, broker, realtime):
    known_ticket, _ = find_or_open_ticket(upsert_contact(connection.company_id, f"+{ANA}", "Ana", False), connection)
    upsert_contact(connection.company_id, f"+{BIA}", None, False)  # known, nameless, no ticket yet

    handle_inbound_batch.fn([
        inbound(connection, "3EB01", ANA, "bom dia"),
        inbound(connection, "3EB02", CAIO, "oi", sender_name="Caio"),
        inbound(connection, "3EB03", BIA, "olá", sender_name="Bia"),
        inbound(connection, "3EB04", CAIO, "tudo bem?"),
        inbound(connection, "3EB05", DANI, "", type="sticker"),
        inbound(connection, "3EB06", ANA, "resolvido", from_me=True),
    ])

    assert Ticket.select().count() == 4
    assert ticket_of(ANA).id == known_ticket.id
    assert {phone: ticket_of(phone).unread_messages for phone in (ANA, BIA, CAIO, DANI)} == {
        ANA: 1, BIA: 1, CAIO: 2, DANI: 1}
    assert ticket_of(ANA).last_message == "resolvido"  # the new tickets' last message is the greeting
    assert Contact.get(Contact.phone == f"+{BIA}").name == "Bia"
    created = TicketEvent.select().where(TicketEvent.kind == "created")
    assert sorted(e.ticket_id for e in created) == sorted(t.id for t in Ticket.select())  # once per ticket
    greetings = Message.select().where(Message.direction == "out", Message.body == "Olá!")
    assert sorted(m.ticket_id for m in greetings) == sorted(ticket_of(p).id for p in (BIA, CAIO, DANI))
    caio = ticket_of(CAIO).id
    of_caio = [(event, data) for event, data in realtime()
               if event in ("ticket:new", "ticket:update") and data["id"] == caio]
    assert [(event, data["unreadMessages"], data["lastMessage"]) for event, data in of_caio[:2]] == [
        ("ticket:new", 1, "oi"), ("ticket:update", 2, "tudo bem?")]
    opened = of_caio[0][1]
    assert opened.keys() == ticket_out(Ticket.get_by_id(caio)).to_json().keys()  # the API's shape
    assert (opened["contact"]["name"], opened["connectionId"]) == ("Caio", connection.id)


def test_a_poison_event_in_a_batch_does_not_block_the_others(connection, broker):
    poison = inbound(connection, "3EB0BAD", BIA, type="image", media={"mimetype": "image/png", "data": "not base64!"})

    results = handle_inbound_batch.fn([inbound(connection, "3EB01", ANA), poison, inbound(connection, "3EB02", CAIO)])

    assert [m.wa_id for m in Message.select().where(Message.direction == "in").order_by(Message.id)] == [
        "3EB01", "3EB02"]
    assert results[1] == {"retried": "3EB0BAD"}
    queued = [dramatiq.Message.decode(raw) for raw in broker.client.hvals("dramatiq:inbound.msgs")]
    assert [(m.actor_name, m.args) for m in queued] == [("handle_inbound", (poison,))]


def test_a_batch_is_recorded_on_sqlite_too(tmp_path, factories, broker):
    with on_sqlite(tmp_path):
        connection = factories.connection(factories.company())
        handle_inbound_batch.fn([inbound(connection, "3EB01", ANA, "um")])

        results = handle_inbound_batch.fn([inbound(connection, "3EB01", ANA, "um"), inbound(connection, "3EB02", ANA),
                                           inbound(connection, "3EB03", BIA, quoted_wa_id="3EB02")])

        assert [r.get("duplicate") for r in results] == ["3EB01", None, None]
        assert {phone: ticket_of(phone).unread_messages for phone in (ANA, BIA)} == {ANA: 2, BIA: 1}
        assert Message.get(Message.wa_id == "3EB03").quoted_message.wa_id == "3EB02"


def test_a_kind_wharf_does_not_show_is_a_message_like_any_other(connection, broker, realtime):
    product = "📦 A product — open WhatsApp on the phone to see it"

    handle_inbound_batch.fn([inbound(connection, "3EB01", ANA, "bom dia"),
                             inbound(connection, "3EB02", ANA, product, type="unsupported", quoted_wa_id="3EB01")])

    message = Message.get(Message.wa_id == "3EB02")
    assert (message.type, message.body, message.quoted_message.wa_id) == ("unsupported", product, "3EB01")
    assert ticket_of(ANA).unread_messages == 2
    events = realtime()
    assert [(data["type"], data["body"]) for event, data in events
            if event == "message:new" and data["waId"] == "3EB02"] == [("unsupported", product)]
    assert [(data["unreadMessages"], data["lastMessage"]) for event, data in events
            if event == "ticket:update" and data["id"] == ticket_of(ANA).id][:1] == [(2, product)]
