"""Voice notes: audio sent as WhatsApp's own voice notes (Ogg/Opus), a browser's WebM recording copied as it is,
any other audio encoded; what cannot be one is refused with the reason."""

from __future__ import annotations

import io

import pytest

from api.schemas import iso_utc
from db.base import utcnow
from db.campaigns import Campaign, CampaignShipping
from db.messages import Message
from tests.file_server import FILES, PNG, served
from tests.voice_tones import sound_of, tone
from tests.waiting import wait_for
from wharf import voice_notes
from wharf.media import MediaRejected, media_store
from wharf.voice_notes import sendable_audio, voice_note
from workers import campaigns
from workers.schedules import send_due_schedules
from workers.transports import simulator


def test_a_browsers_webm_recording_is_copied_into_ogg_as_it_is():
    recording = tone("webm", "libopus", layout="stereo")

    note, mimetype, name = sendable_audio(recording, "audio/webm", "blob.webm", as_voice_note=False)  # no WebM on WhatsApp

    assert (mimetype, name) == ("audio/ogg", "blob.ogg") and note.startswith(b"OggS")
    container, codec, channels, rate, seconds = sound_of(note)
    assert (container, codec, channels, rate) == ("ogg", "opus", 2, 48_000)  # its packets, not encoded again
    assert seconds == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("container, codec, mimetype, rate", [
    ("mp3", "libmp3lame", "audio/mpeg", 44_100),
    ("ipod", "aac", "audio/mp4", 44_100),
    ("wav", "pcm_s16le", "audio/wav", 16_000),
], ids=["mp3", "m4a", "wav"])
def test_other_audio_is_encoded_as_a_mono_opus_voice_note_of_the_same_length(container, codec, mimetype, rate):
    note, sent_as, name = sendable_audio(tone(container, codec, rate=rate), mimetype, "", as_voice_note=True)

    assert (sent_as, name) == ("audio/ogg", "voice-note.ogg")
    container, codec, channels, rate, seconds = sound_of(note)
    assert (container, codec, channels, rate) == ("ogg", "opus", 1, 48_000)
    assert seconds == pytest.approx(3.0, abs=0.1)


def test_audio_not_asked_to_be_a_voice_note_goes_as_it_is():
    song = tone("mp3", "libmp3lame", rate=44_100)

    assert sendable_audio(song, "audio/mpeg", "song.mp3", as_voice_note=False) == (song, "audio/mpeg", "song.mp3")


@pytest.mark.parametrize("data, mimetype, reason", [
    (b"%PDF-1.4 not a sound", "application/pdf", "made of audio"),
    (b"ID3 but nothing after", "audio/mpeg", "cannot be read"),
    (b"#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1/secret.mp3\n", "audio/mpeg", "content is not audio/mpeg"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", "audio/wav", "content is not audio/wav"),
    (b"", "audio/webm", "the file is empty"),
], ids=["a document", "broken audio", "a playlist named mp3", "a video named wav", "empty"])
def test_what_cannot_be_a_voice_note_is_refused_with_the_reason(data, mimetype, reason):
    with pytest.raises(MediaRejected, match=reason):
        voice_note(data, mimetype)


def test_a_recording_longer_than_a_voice_note_may_be_is_refused(monkeypatch):
    monkeypatch.setattr(voice_notes, "LONGEST_SECONDS", 2)

    with pytest.raises(MediaRejected, match="at most"):
        voice_note(tone("mp3", "libmp3lame", rate=44_100), "audio/mpeg")


# --- through the API, to the simulated phone
def sent_entry(redis_client, connection) -> dict:
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=20)
    return simulator.outbox(redis_client, connection.id)[0][0]


def test_a_browsers_recording_uploaded_reaches_the_phone_as_a_voice_note(client, admin_headers, connection, redis_client,
                                                                        worker, gateway):
    recording = tone("webm", "libopus")

    answer = client.post("/api/messages", headers=admin_headers, content_type="multipart/form-data", data={
        "to": "+5511987654321", "file": (io.BytesIO(recording), "recording.webm", "audio/webm")})

    assert answer.status_code == 202, answer.get_json()
    message = Message.get_by_id(answer.get_json()["id"])
    assert (message.type, message.media_mimetype, message.media_name) == ("audio", "audio/ogg", "recording.ogg")
    assert sound_of(media_store().read(message.media_path))[:2] == ("ogg", "opus")
    entry = sent_entry(redis_client, connection)
    assert (entry["type"], entry["mimetype"], entry["voiceNote"]) == ("audio", "audio/ogg", True)


def test_a_song_by_url_goes_as_a_voice_note_when_asked_and_as_a_file_otherwise(client, admin_headers, connection,
                                                                              redis_client, file_server, monkeypatch,
                                                                              worker, gateway):
    monkeypatch.setitem(FILES, "/song.mp3", ("audio/mpeg", tone("mp3", "libmp3lame", rate=44_100)))

    as_note = client.post("/api/messages", headers=admin_headers, json={
        "to": "+5511987654321", "mediaUrl": f"{file_server}/song.mp3", "voiceNote": True})
    entry = sent_entry(redis_client, connection)
    as_file = client.post("/api/messages", headers=admin_headers, json={
        "to": "+5511912345678", "mediaUrl": f"{file_server}/song.mp3", "body": "the jingle"})

    assert as_note.status_code == as_file.status_code == 202
    assert Message.get_by_id(as_note.get_json()["id"]).media_mimetype == "audio/ogg"
    assert (entry["type"], entry["mimetype"], entry["voiceNote"]) == ("audio", "audio/ogg", True)
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 2, timeout=20)
    song = simulator.outbox(redis_client, connection.id)[0][1]
    assert (song["type"], song["mimetype"], song["voiceNote"]) == ("audio", "audio/mpeg", False)


@pytest.mark.parametrize("body, field", [
    ({"body": "listen", "voiceNote": True, "mediaUrl": "https://example.com/a.mp3"}, "body"),
    ({"voiceNote": True}, "voiceNote"),
    ({"voiceNote": True, "poll": {"name": "Lunch?", "options": ["Pizza", "Sushi"]}}, "voiceNote"),
    ({"voiceNote": "yes", "mediaUrl": "https://example.com/a.mp3"}, "voiceNote"),
], ids=["with a text", "without a sound", "with a poll", "not a boolean"])
def test_a_voice_note_that_cannot_be_is_a_400_naming_the_field_and_writes_nothing(client, admin_headers, connection, body,
                                                                                 field):
    answer = client.post("/api/messages", headers=admin_headers, json={"to": "+5511987654321", **body})

    assert (answer.status_code, answer.get_json()["error"]) == (400, "validation_error")
    assert field in answer.get_json()["details"]
    assert Message.select().count() == 0


def test_an_image_uploaded_as_a_voice_note_is_a_400_saying_why(client, admin_headers, connection):
    answer = client.post("/api/messages", headers=admin_headers, content_type="multipart/form-data", data={
        "to": "+5511987654321", "voiceNote": "true", "file": (io.BytesIO(PNG), "photo.png", "image/png")})

    assert answer.status_code == 400 and "made of audio" in answer.get_json()["details"]["file"]
    assert Message.select().count() == 0


# --- campaigns and schedules
def test_a_voice_note_campaign_sends_each_recipient_the_audio_made_once(factories, company, connection, redis_client,
                                                                       file_server, monkeypatch, worker, gateway):
    monkeypatch.setitem(FILES, "/promo.mp3", ("audio/mpeg", tone("mp3", "libmp3lame", rate=44_100)))
    audience = [factories.contact(company).id for _ in range(3)]
    campaign = factories.campaign(company, connection=connection, contact_ids=audience, messages=[],
                                  media_url=f"{file_server}/promo.mp3", voice_note=True, throttle={"perMinute": 6000})

    assert campaigns.start_campaign(campaign) is not None

    assert wait_for(lambda: Campaign.get_by_id(campaign.id).status == "completed", timeout=20)
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 3, timeout=20)
    entries = simulator.outbox(redis_client, connection.id)[0]
    assert {(e["type"], e["mimetype"], e["voiceNote"], e["body"]) for e in entries} == {("audio", "audio/ogg", True, "")}
    assert served["/promo.mp3"] == 1  # fetched and made a voice note once, for every recipient
    assert [row.variant for row in CampaignShipping.select()] == [None] * 3


@pytest.mark.parametrize("fields, field", [
    ({"voiceNote": True, "messages": ["Hi!"], "mediaUrl": "https://example.com/promo.mp3"}, "messages"),
    ({"voiceNote": True}, "mediaUrl"),
    ({"messages": []}, "messages"),
], ids=["with text", "without audio", "saying nothing"])
def test_a_campaign_is_text_or_a_voice_note(client, admin_headers, connection, fields, field):
    answer = client.post("/api/campaigns", headers=admin_headers,
                         json={"name": "Promo", "connectionId": connection.id, **fields})

    assert (answer.status_code, list(answer.get_json()["details"])) == (400, [field])
    assert Campaign.select().count() == 0


def test_a_draft_campaign_becomes_a_voice_note_campaign(client, admin_headers, connection):
    draft = client.post("/api/campaigns", headers=admin_headers,
                        json={"name": "Promo", "connectionId": connection.id, "messages": ["Hi!"]}).get_json()

    changed = client.patch(f"/api/campaigns/{draft['id']}", headers=admin_headers, json={
        "voiceNote": True, "messages": [], "mediaUrl": "https://example.com/promo.mp3"})

    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["voiceNote"], changed.get_json()["messages"]) == (True, [])


def test_a_scheduled_voice_note_is_queued_as_one(client, admin_headers, factories, company, connection):
    contact = factories.contact(company)
    with_text = client.post("/api/schedules", headers=admin_headers, json={
        "connectionId": connection.id, "contactId": contact.id, "body": "listen", "voiceNote": True,
        "mediaUrl": "https://example.com/hello.mp3", "sendAt": iso_utc(utcnow())})
    created = client.post("/api/schedules", headers=admin_headers, json={
        "connectionId": connection.id, "contactId": contact.id, "voiceNote": True,
        "mediaUrl": "https://example.com/hello.mp3", "sendAt": iso_utc(utcnow())})

    assert (with_text.status_code, list(with_text.get_json()["details"])) == (400, ["body"])
    assert created.status_code == 201 and created.get_json()["voiceNote"] is True
    assert send_due_schedules() == 1
    message = Message.get()
    assert (message.type, message.media_mimetype, message.media_path, message.body) == (
        "audio", "audio/ogg", "https://example.com/hello.mp3", "")
