"""Sending a quick message: its file goes with it, and its text filled in for the ticket (or as the agent edited
it); a voice note goes alone; it is checked before anything is written."""

from __future__ import annotations

import io

import pytest

from db.messages import Message
from tests.file_server import PDF
from tests.voice_tones import tone
from tests.waiting import wait_for
from workers.transports import simulator

ANA = "+5511987654321"


def quick_message(client, headers, body: str, file: tuple[bytes, str, str] | None = None, **fields) -> int:
    created = client.post("/api/quick-messages", headers=headers, json={"shortcut": "q", "body": body, **fields})
    assert created.status_code == 201, created.get_json()
    if file is not None:
        data, name, mimetype = file
        uploaded = client.put(f"/api/quick-messages/{created.get_json()['id']}/media", headers=headers,
                              content_type="multipart/form-data", data={"file": (io.BytesIO(data), name, mimetype)})
        assert uploaded.status_code == 200, uploaded.get_json()
    return created.get_json()["id"]


def test_a_quick_message_goes_with_its_file_and_its_text_filled_in_for_the_ticket(
        client, admin_headers, factories, company, connection, redis_client, worker, gateway):
    factories.contact(company, name="Ana Souza", phone=ANA)
    quick_id = quick_message(client, admin_headers, "Olá {{firstName}}, segue a tabela.",
                             (PDF, "tabela.pdf", "application/pdf"))

    sent = client.post("/api/messages", headers=admin_headers, json={"to": ANA, "quickMessageId": quick_id})
    edited = client.post("/api/messages", headers=admin_headers,
                         json={"to": ANA, "quickMessageId": quick_id, "body": "Ana, a tabela nova"})

    assert sent.status_code == edited.status_code == 202
    first, second = (Message.get_by_id(answer.get_json()["id"]) for answer in (sent, edited))
    assert (first.type, first.media_mimetype, first.media_name) == ("document", "application/pdf", "tabela.pdf")
    assert (first.body, second.body) == ("Olá Ana, segue a tabela.", "Ana, a tabela nova")
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 2, timeout=20)
    assert [(e["type"], e["body"]) for e in simulator.outbox(redis_client, connection.id)[0]] == [
        ("document", "Olá Ana, segue a tabela."), ("document", "Ana, a tabela nova")]


def test_a_quick_voice_note_goes_alone(client, admin_headers, connection):
    quick_id = quick_message(client, admin_headers, "(áudio de boas-vindas)", (tone("webm", "libopus"), "oi.webm",
                                                                               "audio/webm"))

    sent = client.post("/api/messages", headers=admin_headers, json={"to": ANA, "quickMessageId": quick_id})
    with_text = client.post("/api/messages", headers=admin_headers,
                            json={"to": ANA, "quickMessageId": quick_id, "body": "ouça"})

    assert sent.status_code == 202
    note = Message.get_by_id(sent.get_json()["id"])
    assert (note.type, note.media_mimetype, note.body) == ("audio", "audio/ogg", "")
    assert with_text.status_code == 400 and "body" in with_text.get_json()["details"]


@pytest.mark.parametrize("fields, field", [
    ({"mediaUrl": "https://example.com/a.pdf"}, "mediaUrl"),
    ({"voiceNote": True}, "voiceNote"),
    ({"poll": {"name": "Lunch?", "options": ["Pizza", "Sushi"]}}, "quickMessageId"),
], ids=["with a media URL", "as a voice note", "with a poll"])
def test_a_quick_message_goes_with_its_own_file_only(client, admin_headers, connection, fields, field):
    quick_id = quick_message(client, admin_headers, "Olá!")

    answer = client.post("/api/messages", headers=admin_headers, json={"to": ANA, "quickMessageId": quick_id, **fields})

    assert (answer.status_code, list(answer.get_json()["details"])) == (400, [field])
    assert Message.select().count() == 0


def test_someone_elses_personal_quick_message_is_not_found_and_nothing_is_written(
        client, app, admin_headers, factories, company, connection):
    theirs = quick_message(client, factories.auth_headers(app, factories.user(company, role="agent")), "Meu texto")

    answer = client.post("/api/messages", headers=admin_headers, json={"to": ANA, "quickMessageId": theirs})

    assert answer.status_code == 404
    assert Message.select().count() == 0
