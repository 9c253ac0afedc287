"""What contacts send besides text: a photo, a voice note or a PDF kept and served by its `mediaUrl`, a location or a
contact card stored structured, from the simulated network end to end and from neonize's events alike."""

from __future__ import annotations

import base64
import io

from neonize.proto import Neonize_pb2 as neonize_proto
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ContactMessage, LocationMessage
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage

from db.messages import Message
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.waiting import wait_for
from wharf.settings import settings
from workers.inbound import handle_inbound
from workers.transports.base import ContactCard
from workers.transports.neonize_mapping import map_event

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
OGG = b"OggS\x00\x02" + bytes(20) + b"OpusHead"
SHOP = {"latitude": -23.5613, "longitude": -46.6565, "name": "Loja Paulista", "address": "Av. Paulista, 1000"}
ANA = {"name": "Ana Souza", "phone": "+5511912345678"}


def arrived(answers: list) -> list[Message]:
    """The messages the simulator's answers name, once all are stored (each its own job: in any order)."""
    for answer in answers:
        assert answer.status_code == 202, answer.get_json()
    wa_ids = [answer.get_json()["waId"] for answer in answers]
    assert wait_for(lambda: Message.select().where(Message.wa_id.in_(wa_ids)).count() == len(wa_ids), timeout=20)
    return [Message.get(Message.wa_id == wa_id) for wa_id in wa_ids]


def shown(client, headers, message: Message) -> dict:
    answer = client.get(f"/api/messages/{message.id}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def opened(client, media_url: str):
    """What the message's link serves, with no Authorization."""
    assert media_url.startswith(f"{settings.public_url}/api/media/")
    return client.get(media_url.removeprefix(settings.public_url))


def test_a_photo_a_voice_note_and_a_pdf_from_a_simulated_contact_are_kept_and_served_by_their_links(
        client, admin_headers, connection, worker, gateway):
    inbound = f"/api/simulator/{connection.id}/inbound"
    photo = client.post(inbound, headers=admin_headers, content_type="multipart/form-data", data={
        "from": "+5511987654321", "name": "Ana", "body": "the receipt", "file": (io.BytesIO(PNG), "receipt.png",
                                                                                  "image/png")})
    voice_note = client.post(inbound, headers=admin_headers, json={
        "from": "+5511987654321", "media": {"data": base64.b64encode(OGG).decode(), "mimetype": "audio/ogg; codecs=opus"}})
    pdf = client.post(inbound, headers=admin_headers, content_type="multipart/form-data", data={
        "from": "+5511987654321", "file": (io.BytesIO(PDF), "invoice.pdf", "application/pdf")})

    image, audio, document = arrived([photo, voice_note, pdf])
    assert (image.type, image.body, image.media_mimetype, image.media_name) == ("image", "the receipt", "image/png", None)
    assert (audio.type, audio.body, audio.media_mimetype) == ("audio", "", "audio/ogg")
    assert (document.type, document.body, document.media_name) == ("document", "", "invoice.pdf")
    for message, data in ((image, PNG), (audio, OGG), (document, PDF)):
        served = opened(client, shown(client, admin_headers, message)["mediaUrl"])
        assert (served.status_code, served.data, served.mimetype) == (200, data, message.media_mimetype)
    assert image.ticket_id == audio.ticket_id == document.ticket_id
    assert image.ticket.contact.name == "Ana"


def test_a_location_and_a_contact_card_from_a_simulated_contact_are_stored_structured_and_announced(
        client, admin_headers, connection, worker, gateway, realtime):  # noqa: F811
    inbound = f"/api/simulator/{connection.id}/inbound"
    answers = [client.post(inbound, headers=admin_headers, json={"from": "+5511987654321", **sent})
               for sent in ({"location": SHOP}, {"contact": {"name": "Ana Souza", "phone": "(11) 91234-5678"}})]

    place, card = arrived(answers)

    assert (place.type, place.body, place.location, place.contact_card) == (
        "location", "Loja Paulista\nAv. Paulista, 1000\n-23.5613,-46.6565", SHOP, None)
    assert (card.type, card.body, card.contact_card, card.location) == (
        "contact", ContactCard(**ANA).vcard(), ANA, None)
    assert (shown(client, admin_headers, place)["location"], shown(client, admin_headers, card)["contact"]) == (SHOP, ANA)
    announced = []

    def both_announced() -> bool:
        announced.extend(data for event, data in realtime() if event == "message:new" and data["direction"] == "in")
        return len(announced) == 2

    assert wait_for(both_announced, timeout=10)
    assert {data["id"]: (data["location"], data["contact"]) for data in announced} == {
        place.id: (SHOP, None), card.id: (None, ANA)}  # what webhooks get too (workers.events.publish)


def neonize_event(connection_id: int, wa_id: str, message: WAMessage) -> dict:
    """What the neonize transport hands the workers for a message a contact sent."""
    contact = neonize_proto.JID(User="5511987654321", Server="s.whatsapp.net")
    event = neonize_proto.Message(
        Info=neonize_proto.MessageInfo(ID=wa_id, Pushname="Ana", Timestamp=1_700_000_000_123,
                                       MessageSource=neonize_proto.MessageSource(Chat=contact, Sender=contact)),
        Message=message)
    return map_event(connection_id, event).to_dict()


def test_a_location_and_a_contact_card_received_on_whatsapp_are_stored_as_the_simulators_are(
        client, admin_headers, connection, broker):
    place = LocationMessage(degreesLatitude=SHOP["latitude"], degreesLongitude=SHOP["longitude"], name=SHOP["name"],
                            address=SHOP["address"])
    vcard = ("BEGIN:VCARD\nVERSION:3.0\nN:Souza;Ana;;;\nFN:Ana Souza\n"
             "item1.TEL;waid=5511912345678:+55 11 91234-5678\nitem1.X-ABLabel:Celular\nEND:VCARD")
    no_number = "BEGIN:VCARD\nVERSION:3.0\nFN:Reception\nEND:VCARD"

    for wa_id, message in (("3A0PLACE", WAMessage(locationMessage=place)),
                           ("3A0CARD", WAMessage(contactMessage=ContactMessage(displayName="Ana", vcard=vcard))),
                           ("3A0NONUMBER", WAMessage(contactMessage=ContactMessage(vcard=no_number)))):
        handle_inbound.fn(neonize_event(connection.id, wa_id, message))

    located, carded, unnumbered = (Message.get(Message.wa_id == wa_id) for wa_id in ("3A0PLACE", "3A0CARD", "3A0NONUMBER"))
    assert (located.type, located.body, shown(client, admin_headers, located)["location"]) == (
        "location", "Loja Paulista\nAv. Paulista, 1000\n-23.5613,-46.6565", SHOP)
    assert (carded.type, carded.body, shown(client, admin_headers, carded)["contact"]) == ("contact", vcard, ANA)
    assert (unnumbered.type, unnumbered.body, shown(client, admin_headers, unnumbered)["contact"]) == (
        "contact", no_number, None)
