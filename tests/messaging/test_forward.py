"""Forwarding a message to another chat: its text, file, place or card goes as it is and WhatsApp shows it as
forwarded; a contact's forwarded message is kept as forwarded; what cannot go is a 409."""

from __future__ import annotations

import base64

from db.messages import Message
from tests.file_server import PNG
from tests.waiting import wait_for
from workers.transports import simulator

ANA, BIA = "+5511987654321", "+5511912345678"


def received(client, headers, connection, **fields) -> Message:
    answer = client.post(f"/api/simulator/{connection.id}/inbound", json={"from": ANA, **fields}, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    wa_id = answer.get_json()["waId"]
    assert wait_for(lambda: Message.get_or_none(Message.wa_id == wa_id) is not None, timeout=20)
    return Message.get(Message.wa_id == wa_id)


def forward(client, headers, message, **to):
    return client.post(f"/api/messages/{message.id}/forward", json=to, headers=headers)


def test_a_photo_and_a_text_are_forwarded_as_they_are_and_shown_as_forwarded(client, admin_headers, connection,
                                                                            redis_client, worker, gateway):
    photo = received(client, admin_headers, connection, body="o comprovante", forwarded=True,
                     media={"data": base64.b64encode(PNG).decode(), "mimetype": "image/png"})
    text = received(client, admin_headers, connection, body="pode me ligar?")

    to_bia = forward(client, admin_headers, photo, to=BIA)
    to_ticket = forward(client, admin_headers, text, ticketId=text.ticket_id)

    assert (to_bia.status_code, to_ticket.status_code) == (202, 202), (to_bia.get_json(), to_ticket.get_json())
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 2, timeout=20)
    sent = {entry["to"]: entry for entry in simulator.outbox(redis_client, connection.id)[0]}
    assert (sent[BIA]["type"], sent[BIA]["mimetype"], sent[BIA]["body"], sent[BIA]["forwarded"]) == (
        "image", "image/png", "o comprovante", True)
    assert (sent[ANA]["body"], sent[ANA]["forwarded"]) == ("pode me ligar?", True)
    shown = client.get(f"/api/messages/{to_bia.get_json()['id']}", headers=admin_headers).get_json()
    assert shown["forwarded"] is True and shown["mediaMimetype"] == "image/png"
    assert Message.get_by_id(photo.id).forwarded and not Message.get_by_id(text.id).forwarded  # as Ana sent them


def test_what_cannot_go_is_a_409_and_a_destination_is_required(client, admin_headers, factories, company, connection):
    ticket = factories.ticket(company, connection=connection)
    deleted = factories.message(ticket, deleted_at=factories.ticket(company).created_at)
    poll = factories.message(ticket, type="poll", poll={"name": "?", "options": ["a", "b"], "selectable_count": 1})
    lost_photo = factories.message(ticket, type="image", body="")
    text = factories.message(ticket, body="oi")
    foreign = factories.message(factories.ticket(factories.company()), body="oi")

    refused = [forward(client, admin_headers, message, to=BIA) for message in (deleted, poll, lost_photo)]
    nowhere = forward(client, admin_headers, text)
    both = forward(client, admin_headers, text, to=BIA, ticketId=ticket.id)
    other_company = forward(client, admin_headers, foreign, to=BIA)

    assert [answer.status_code for answer in refused] == [409, 409, 409]
    assert (nowhere.status_code, both.status_code, other_company.status_code) == (400, 400, 404)
    assert Message.select().where(Message.direction == "out").count() == 0
