"""POST /api/messages with a location or a contact card: the row its send is built from, how the API and its
events show it, and what is refused. Their sending is in tests/messaging/test_location_and_contact_sends.py."""

from __future__ import annotations

import io

import pytest

from db.messages import Message
from db.tickets import Ticket
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)

SHOP = {"latitude": -23.5613, "longitude": -46.6565, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}


def send(client, headers, **body):
    return client.post("/api/messages", json={"to": "+5511987654321", **body}, headers=headers)


def test_a_location_is_stored_as_its_place_in_words_with_its_coordinates_and_shown_so(
        client, headers, connection, realtime):  # noqa: F811
    answer = send(client, headers, location=SHOP)

    assert answer.status_code == 202, answer.get_json()
    message = Message.get_by_id(answer.get_json()["id"])
    assert (message.type, message.body) == ("location", "Loja Paulista\nAv. Paulista, 1000\n-23.5613,-46.6565")
    assert message.location == SHOP and message.contact_card is None
    shown = client.get(f"/api/messages/{message.id}", headers=headers).get_json()
    assert (shown["type"], shown["location"], shown["contact"]) == ("location", SHOP, None)
    [(event, data)] = realtime()
    assert (event, data["type"], data["location"], data["contact"]) == ("message:new", "location", SHOP, None)
    assert Ticket.get_by_id(message.ticket_id).last_message == "📍 Loja Paulista"


def test_a_location_with_coordinates_only_says_just_them(client, headers, connection):
    answer = send(client, headers, location={"latitude": 0, "longitude": 180, "name": "", "address": "  "})

    message = Message.get_by_id(answer.get_json()["id"])
    assert message.body == "0.0,180.0"
    assert message.location == {"latitude": 0.0, "longitude": 180.0, "name": None, "address": None}


def test_a_contact_card_s_phone_is_read_in_the_company_s_country_and_its_body_is_its_vcard(client, headers,
                                                                                          connection):
    answer = send(client, headers, contact={"name": "Ana Souza", "phone": "(11) 91234-5678"})

    assert answer.status_code == 202, answer.get_json()
    message = Message.get_by_id(answer.get_json()["id"])
    assert message.type == "contact"
    assert message.contact_card == {"name": "Ana Souza", "phone": "+5511912345678"}
    assert message.body == ("BEGIN:VCARD\nVERSION:3.0\nN:;Ana Souza;;;\nFN:Ana Souza\n"
                            "TEL;type=CELL;type=VOICE;waid=5511912345678:+5511912345678\nEND:VCARD")
    shown = client.get(f"/api/messages/{message.id}", headers=headers).get_json()
    assert (shown["contact"], shown["location"]) == ({"name": "Ana Souza", "phone": "+5511912345678"}, None)


def test_a_text_shows_neither_a_location_nor_a_contact(client, headers, connection):
    answer = send(client, headers, body="hi")

    shown = client.get(f"/api/messages/{answer.get_json()['id']}", headers=headers).get_json()
    assert (shown["type"], shown["location"], shown["contact"]) == ("text", None, None)


def test_a_reply_may_share_a_location(client, headers, connection):
    first = send(client, headers, body="where are you?").get_json()

    answer = send(client, headers, location=SHOP, quotedMessageId=first["id"])

    assert Message.get_by_id(answer.get_json()["id"]).quoted_message_id == first["id"]


@pytest.mark.parametrize("body, field", [
    ({"location": SHOP, "body": "come here"}, "body"),
    ({"location": SHOP, "mediaUrl": "https://example.com/map.png"}, "mediaUrl"),
    ({"contact": {"name": "Ana", "phone": "+5511912345678"}, "body": "her number"}, "body"),
    ({"location": SHOP, "contact": {"name": "Ana", "phone": "+5511912345678"}}, "contact"),
    ({"location": {**SHOP, "latitude": 90.5}}, "location.latitude"),
    ({"location": {**SHOP, "longitude": -180.01}}, "location.longitude"),
    ({"location": {**SHOP, "latitude": "-23.5"}}, "location.latitude"),
    ({"location": {"longitude": 10}}, "location.latitude"),
    ({"location": {**SHOP, "zoom": 3}}, "location.zoom"),
    ({"contact": {"name": " ", "phone": "+5511912345678"}}, "contact.name"),
    ({"contact": {"name": "Ana", "phone": "not a number"}}, "contact.phone"),
    ({"contact": {"name": "Ana"}}, "contact.phone"),
], ids=["location with a caption", "location with media", "contact with a caption", "location and contact",
        "latitude past 90", "longitude past -180", "latitude as text", "no latitude", "unknown field", "blank name",
        "phone not a number", "no phone"])
def test_a_location_or_contact_card_that_is_not_alone_or_not_valid_is_a_400_naming_the_field(
        client, headers, connection, body, field):
    answer = send(client, headers, **body)

    assert answer.status_code == 400
    assert answer.get_json()["error"] == "validation_error" and field in answer.get_json()["details"]
    assert Message.select().count() == 0 and Ticket.select().count() == 0


def test_a_location_comes_in_a_json_body_and_a_form_s_text_is_none(client, headers, connection):
    answer = client.post("/api/messages", data={"to": "+5511987654321", "location": '{"latitude": 1, "longitude": 2}',
                                                "file": (io.BytesIO(b"%PDF-1.4 x"), "a.pdf", "application/pdf")},
                         headers=headers, content_type="multipart/form-data")

    assert answer.status_code == 400 and "location" in answer.get_json()["details"]
    assert Message.select().count() == 0
