"""A simulated contact sends what real contacts send (`POST /api/simulator/:id/inbound`): a text, a file with its
caption, a location or a contact card; what WhatsApp would not carry, or the platform not keep, is a 4xx and reaches
no one."""

from __future__ import annotations

import base64
import io
import json

import pytest

from tests.api.test_errors import assert_error
from wharf.media import MAX_BYTES
from workers.transports import simulator
from workers.transports.base import ContactCard

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
OGG = b"OggS\x00\x02" + bytes(20) + b"OpusHead"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"
SHOP = {"latitude": -23.5613, "longitude": -46.6565, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}


def as_base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def commands(redis_client, connection) -> list[dict]:
    """What the network was asked, oldest first."""
    return [json.loads(raw) for raw in reversed(redis_client.lrange(simulator.key(connection.id, "commands"), 0, -1))]


@pytest.fixture
def inbound(client, headers, connection, redis_client):
    """Posts as a simulated contact of the connection: JSON, or a multipart form when a `file` is given."""
    redis_client.delete(simulator.key(connection.id, "commands"), simulator.key(connection.id, "media"))

    def post(file: tuple[bytes, str, str] | None = None, **body):
        body = {"from": "+5511987654321", **body}
        if file is None:
            return client.post(f"/api/simulator/{connection.id}/inbound", json=body, headers=headers)
        data, filename, mimetype = file
        return client.post(f"/api/simulator/{connection.id}/inbound", headers=headers, content_type="multipart/form-data",
                           data={**body, "file": (io.BytesIO(data), filename, mimetype)})

    return post


def test_a_file_goes_with_its_caption_and_the_network_keeps_its_bytes_beside_the_message(inbound, connection,
                                                                                        redis_client):
    uploaded = inbound(file=(PNG, "receipt.png", "image/png"), body="the receipt")
    in_json = inbound(media={"data": as_base64(OGG), "mimetype": "audio/ogg; codecs=opus", "filename": "note.ogg"})

    assert (uploaded.status_code, in_json.status_code) == (202, 202), uploaded.get_json()
    photo, voice_note = commands(redis_client, connection)
    assert (photo["type"], photo["body"], photo["media"]) == ("image", "the receipt",
                                                              {"mimetype": "image/png", "filename": None})
    assert (voice_note["type"], voice_note["body"], voice_note["media"]) == ("audio", "",
                                                                             {"mimetype": "audio/ogg", "filename": None})
    assert redis_client.hmget(simulator.key(connection.id, "media"), [photo["waId"], voice_note["waId"]]) == [PNG, OGG]
    assert uploaded.get_json() == {"waId": photo["waId"], "from": "+5511987654321", "group": None}


def test_a_location_and_a_contact_card_go_alone_saying_what_they_are(inbound, connection, redis_client):
    shared = [inbound(location=SHOP), inbound(contact={"name": "Ana Souza", "phone": "(11) 91234-5678"})]

    assert [answer.status_code for answer in shared] == [202, 202]
    place, card = commands(redis_client, connection)
    assert (place["type"], place["body"], place["location"]) == (
        "location", "Loja Paulista\nAv. Paulista, 1000\n-23.5613,-46.6565", SHOP)
    assert (card["type"], card["body"], card["contact"]) == (
        "contact", ContactCard("Ana Souza", "+5511912345678").vcard(), {"name": "Ana Souza", "phone": "+5511912345678"})


@pytest.mark.parametrize("sent, field", [
    ({}, "body"),  # nothing
    ({"media": {"data": "not base64!", "mimetype": "image/png"}}, "media.data"),
    ({"media": {"data": as_base64(EXE), "mimetype": "application/x-msdownload"}}, "media"),  # a type we keep not
    ({"media": {"data": as_base64(EXE), "mimetype": "image/png"}}, "media"),  # a program named a picture
    ({"media": {"data": "", "mimetype": "image/png"}}, "media"),  # empty
    ({"media": {"data": as_base64(OGG), "mimetype": "audio/ogg"}, "body": "listen"}, "media"),  # audio has no caption
    ({"file": (EXE, "photo.png", "image/png")}, "file"),
    ({"location": SHOP, "body": "here"}, "body"),  # a place goes alone
    ({"location": SHOP, "contact": {"name": "Ana", "phone": "+5511912345678"}}, "body"),  # one thing at a time
    ({"location": {**SHOP, "latitude": 91}}, "location.latitude"),
    ({"contact": {"name": "Ana", "phone": "12"}}, "contact.phone"),
], ids=["nothing", "bad base64", "a type we do not keep", "content not its type", "empty file", "a voice note's caption",
        "an uploaded program", "a location with text", "a location and a card", "off the globe", "a card's bad number"])
def test_what_whatsapp_would_not_carry_is_a_400_naming_the_field_and_reaches_no_one(inbound, connection, redis_client,
                                                                                    sent, field):
    answer = inbound(**sent)

    assert assert_error(answer, 400, "validation_error")["details"].keys() == {field}
    assert commands(redis_client, connection) == []
    assert not redis_client.exists(simulator.key(connection.id, "media"))


def test_a_file_over_the_platforms_limit_is_refused(inbound, app, monkeypatch, connection, redis_client):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2 * MAX_BYTES)  # a server that takes bigger bodies

    answer = inbound(file=(b"%PDF-" + bytes(MAX_BYTES), "big.pdf", "application/pdf"))

    assert f"the limit is {MAX_BYTES}" in assert_error(answer, 400, "validation_error")["details"]["file"]
    assert commands(redis_client, connection) == []


def test_a_50_mb_file_is_a_413_before_it_is_read(inbound, connection, redis_client):
    answer = inbound(file=(bytes(50 * 1024 * 1024), "video.mp4", "video/mp4"))

    assert "the most the API takes" in assert_error(answer, 413, "payload_too_large")["message"]
    assert commands(redis_client, connection) == []


def test_a_member_writes_in_a_group_named_by_its_id_or_its_digits_and_the_network_remembers_its_subject(
        inbound, connection, redis_client):
    redis_client.delete(simulator.key(connection.id, "groups"))

    named = inbound(body="bom dia", name="Ana", group={"id": "120363012345678901", "name": "Equipe de vendas"})
    again = inbound(body="tudo certo?", group={"id": "120363012345678901@g.us"})

    assert (named.status_code, again.status_code) == (202, 202)
    first, second = commands(redis_client, connection)
    assert (first["group"], first["phone"], first["name"]) == ("120363012345678901@g.us", "5511987654321", "Ana")
    assert second["group"] == "120363012345678901@g.us"
    assert named.get_json() == {"waId": first["waId"], "from": "+5511987654321", "group": "120363012345678901@g.us"}
    assert redis_client.hgetall(simulator.key(connection.id, "groups")) == {
        b"120363012345678901@g.us": b"Equipe de vendas"}


@pytest.mark.parametrize("group, field", [
    ({}, "group.id"),
    ({"id": "sales team"}, "group.id"),
    ({"id": "5511987654321@s.whatsapp.net"}, "group.id"),  # a person's chat
    ({"id": ""}, "group.id"),
    ({"id": "120363012345678901", "name": "x" * 201}, "group.name"),
], ids=["no id", "no group id", "a person's id", "empty", "a subject too long"])
def test_a_group_that_is_no_whatsapp_group_is_a_400_naming_the_field_and_reaches_no_one(inbound, connection,
                                                                                      redis_client, group, field):
    answer = inbound(body="oi", group=group)

    assert assert_error(answer, 400, "validation_error")["details"].keys() == {field}
    assert commands(redis_client, connection) == []
