"""Brazilian mobiles with their ninth digit (wharf.phones.with_ninth_digit): WhatsApp still names the accounts made
before 2016 by eight digits, so the number people type and the one a message comes from are kept as one."""

from __future__ import annotations

import pytest

from db.contacts import Contact
from db.tickets import Ticket, find_or_open_ticket
from tests.messaging.test_inbound_batch import connection, inbound  # noqa: F401 (a fixture)
from wharf.phones import InvalidPhone, to_e164
from workers.inbound import handle_inbound_batch, upsert_contact
from workers.transports.base import e164_or_id


@pytest.mark.parametrize("raw, e164", [
    ("+55 11 8765-4321", "+5511987654321"),  # typed as before 2016
    ("(11) 8765-4321", "+5511987654321"),
    ("+55 11 98765-4321", "+5511987654321"),
    ("+55 61 7123-4567", "+5561971234567"),
    ("+55 11 3456-7890", "+551134567890"),  # a landline has eight digits
    ("+1 415 555 0100", "+14155550100"),
])
def test_a_brazilian_mobile_is_read_with_its_ninth_digit(raw, e164):
    assert to_e164(raw) == e164


def test_a_number_that_is_no_mobile_even_with_a_ninth_digit_is_still_refused():
    with pytest.raises(InvalidPhone):
        to_e164("+55 11 0765-4321")


@pytest.mark.parametrize("address, kept", [
    ("551187654321", "+5511987654321"),
    ("+551187654321", "+5511987654321"),
    ("5511987654321", "+5511987654321"),
    ("551134567890", "+551134567890"),
    ("120363012345678901@g.us", "120363012345678901@g.us"),
    ("551187654321@lid", "551187654321@lid"),
])
def test_what_whatsapp_names_by_eight_digits_is_kept_with_nine(address, kept):
    assert e164_or_id(address) == kept


def test_a_message_from_an_account_named_by_eight_digits_finds_the_contact_saved_with_nine(connection,  # noqa: F811
                                                                                           broker):
    saved = upsert_contact(connection.company_id, to_e164("(11) 98765-4321"), "Ana", False)
    ticket, _ = find_or_open_ticket(saved, connection)

    handle_inbound_batch.fn([inbound(connection, "3EB0A", "551187654321", "oi, é a Ana")])

    assert [contact.phone for contact in Contact.select()] == ["+5511987654321"]
    assert [t.id for t in Ticket.select()] == [ticket.id]
    assert Ticket.get_by_id(ticket.id).last_message == "oi, é a Ana"
