"""A message's file or a contact's profile picture by its signed link (api/resources/media.py): opens without
Authorization, that file only, for a day; shown inline only when it is an image, audio, video or PDF, and never as a
page of the API."""

from __future__ import annotations

import time

import pytest

from wharf.media import media_link, media_store, profile_picture_link
from wharf.settings import settings

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture
def ticket(factories):
    company = factories.company()
    return factories.ticket(company, connection=factories.connection(company))


def path_of(link: str) -> str:
    assert link.startswith(f"{settings.public_url}/api/media/")
    return link.removeprefix(settings.public_url)


def test_an_image_opens_inline_by_its_link_without_authorization(client, factories, ticket):
    key = media_store().save(ticket.company_id, PNG, "image/png")
    message = factories.message(ticket, type="image", media_path=key, media_mimetype="image/png",
                                media_name="photo.png")

    answer = client.get(path_of(media_link(message.id)))

    assert answer.status_code == 200 and answer.data == PNG
    assert answer.mimetype == "image/png"
    assert answer.headers["Content-Disposition"].startswith("inline")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]


def test_a_contacts_document_is_a_download_never_a_page_of_the_api(client, factories, ticket, var_dir):
    key = f"{ticket.company_id}/page.html"  # what a contact's "document" may be: kept as WhatsApp gave it
    (var_dir / "media" / key).parent.mkdir(parents=True, exist_ok=True)
    (var_dir / "media" / key).write_bytes(HTML)
    message = factories.message(ticket, type="document", media_path=key, media_mimetype="text/html",
                                media_name="invoice.html")

    answer = client.get(path_of(media_link(message.id)))

    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == "attachment; filename=invoice.html"
    assert "sandbox" in answer.headers["Content-Security-Policy"]


def test_audio_and_video_can_be_played_from_any_point(client, factories, ticket):
    key = media_store().save(ticket.company_id, PNG, "image/png")
    message = factories.message(ticket, type="image", media_path=key, media_mimetype="image/png")

    answer = client.get(path_of(media_link(message.id)), headers={"Range": "bytes=4-7"})

    assert answer.status_code == 206 and answer.data == PNG[4:8]


def test_a_file_sent_by_url_is_a_redirect_to_it(client, factories, ticket):
    message = factories.message(ticket, direction="out", type="document", media_path="https://example.com/a.pdf",
                                media_mimetype="application/pdf")

    answer = client.get(path_of(media_link(message.id)))

    assert (answer.status_code, answer.headers["Location"]) == (302, "https://example.com/a.pdf")


def test_a_tampered_link_opens_nothing_and_an_old_one_says_it_expired(client, factories, ticket, monkeypatch):
    key = media_store().save(ticket.company_id, PNG, "image/png")
    message = factories.message(ticket, type="image", media_path=key, media_mimetype="image/png")
    other = factories.message(ticket, type="image", media_path=key, media_mimetype="image/png")
    token = path_of(media_link(message.id)).rsplit("/", 1)[1]
    forged = token.replace(token.split(".")[0], path_of(media_link(other.id)).rsplit("/", 1)[1].split(".")[0])
    now = time.time()
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: now - 25 * 3600)
        old = media_link(message.id)

    tampered = client.get(f"/api/media/{forged}")
    expired = client.get(path_of(old))
    no_file = client.get(path_of(media_link(factories.message(ticket).id)))

    assert (tampered.status_code, tampered.get_json()["error"]) == (404, "not_found")
    assert (expired.status_code, expired.get_json()["error"]) == (410, "link_expired")
    assert no_file.status_code == 404


def test_a_message_with_a_file_shows_its_link_and_one_without_shows_none(client, app, factories, ticket):
    headers = factories.auth_headers(app, factories.user(ticket.company, role="admin"))
    key = media_store().save(ticket.company_id, PNG, "image/png")
    photo = factories.message(ticket, type="image", media_path=key, media_mimetype="image/png")
    text = factories.message(ticket)

    shown = client.get(f"/api/messages/{photo.id}", headers=headers).get_json()
    plain = client.get(f"/api/messages/{text.id}", headers=headers).get_json()

    assert client.get(path_of(shown["mediaUrl"])).data == PNG
    assert plain["mediaUrl"] is None and "mediaPath" not in shown


def test_a_contacts_profile_picture_opens_inline_by_its_link_and_a_contact_without_one_has_none(client, factories,
                                                                                                  ticket):
    key = media_store().save(ticket.company_id, PNG, "image/png")
    contact = factories.contact(ticket.company, profile_pic_path=key, profile_pic_id="1691585656")

    answer = client.get(path_of(profile_picture_link(contact.id)))
    none = client.get(path_of(profile_picture_link(ticket.contact_id)))

    assert (answer.status_code, answer.data, answer.mimetype) == (200, PNG, "image/png")
    assert answer.headers["Content-Disposition"].startswith("inline")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert none.status_code == 404
