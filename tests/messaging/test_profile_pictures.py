"""Contacts' WhatsApp profile pictures: asked of the connection's session when a contact first writes, again a day
later or on request, downloaded only when WhatsApp shows a new one, kept in the media store and opened by a signed
link (workers/profile_pictures.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import ipaddress

import pytest
from PIL import Image

import wharf.settings
from db.base import utcnow
from db.contacts import Contact
from db.jobs import Job
from tests import webhook_receiver
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.messaging.test_read_receipts import queued_on_session
from tests.waiting import wait_for
from wharf.media import media_store
from workers.contact_details import check_contact_details
from workers.inbound import handle_inbound_batch
from workers.messages import gateway_queue
from workers.profile_pictures import store_profile_picture
from workers.transports import simulator
from workers.transports.base import InboundMessage
from workers.transports.simulator_session import drawn_picture

CUSTOMER = "+5511987654321"


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def picture_server(monkeypatch):
    """A real HTTP server on loopback, as WhatsApp's CDN, that loopback addresses are allowed to reach."""
    loopback = (ipaddress.ip_network("127.0.0.1/32"),)
    monkeypatch.setattr(wharf.settings, "settings",
                        dataclasses.replace(wharf.settings.settings, http_allow_private_networks=loopback))
    with webhook_receiver.serving() as server:
        yield server


def picture_of(contact: Contact) -> tuple[str | None, str | None]:
    """The contact's kept picture (its key) and WhatsApp's id of it, as stored now."""
    stored = Contact.get_by_id(contact.id)
    return stored.profile_pic_path, stored.profile_pic_id


def fetched(client, headers, contact: Contact) -> Job:
    """Ask for the contact's picture; once the job is done and what it found is kept (a download's, after it)."""
    answer = client.post(f"/api/contacts/{contact.id}/profile-picture", headers=headers)
    assert answer.status_code == 202, answer.get_json()
    job_id = answer.get_json()["jobId"]
    assert wait_for(lambda: Job.get_by_id(job_id).status in ("done", "failed"), timeout=20)
    job = Job.get_by_id(job_id)
    assert wait_for(lambda: picture_of(contact)[1] == job.result["pictureId"], timeout=20)
    return job


def opened(client, link: str) -> bytes:
    answer = client.get(link.removeprefix(wharf.settings.settings.public_url))
    assert answer.status_code == 200 and answer.headers["X-Content-Type-Options"] == "nosniff"
    return answer.data


def test_a_new_contact_who_writes_in_shows_the_picture_whatsapp_shows_of_them(
        client, admin_headers, connection, worker, gateway, realtime):  # noqa: F811
    client.post(f"/api/simulator/{connection.id}/inbound", json={"from": CUSTOMER, "body": "oi"}, headers=admin_headers)

    assert wait_for(lambda: Contact.get_or_none(Contact.profile_pic_path.is_null(False)) is not None, timeout=20)
    contact = Contact.get(Contact.phone == CUSTOMER)
    shown = client.get(f"/api/contacts/{contact.id}", headers=admin_headers).get_json()
    [ticket] = client.get("/api/tickets", headers=admin_headers).get_json()["items"]
    assert opened(client, shown["profilePicUrl"]) == drawn_picture(CUSTOMER.lstrip("+"))
    assert opened(client, ticket["contact"]["profilePicUrl"]) == drawn_picture(CUSTOMER.lstrip("+"))
    assert contact.profile_pic_path.startswith(f"{connection.company_id}/") and contact.profile_pic_checked_at
    told: list = []  # published just after the picture's commit: gathered until it is there
    assert wait_for(lambda: told.extend(realtime()) or any(
        event == "ticket:update" and data["contact"]["profilePicUrl"] for event, data in told), timeout=10)
    assert [data["id"] for event, data in told if event == "contact:update" and data["profilePicUrl"]] == [contact.id]
    assert [data["id"] for event, data in told if event == "ticket:update" and data["contact"]["profilePicUrl"]] == [
        ticket["id"]]


def written(connection, *phones: str) -> None:
    handle_inbound_batch.fn([InboundMessage(connection.id, wa_id=f"3EB0{n}{phone[-4:]}", chat=phone.lstrip("+"),
                                            sender=phone.lstrip("+"), body="oi").to_dict()
                             for n, phone in enumerate(phones)])


def test_a_contacts_picture_is_checked_when_they_first_write_then_once_a_day_however_much_they_write(
        factories, company, connection, broker):
    checked_lately = factories.contact(company, profile_pic_checked_at=utcnow() - dt.timedelta(hours=1))
    checked_long_ago = factories.contact(company, profile_pic_checked_at=utcnow() - dt.timedelta(hours=25))

    written(connection, CUSTOMER, CUSTOMER, checked_lately.phone, checked_long_ago.phone)
    written(connection, CUSTOMER, checked_long_ago.phone)

    new = Contact.get(Contact.phone == CUSTOMER)
    checks = [m.args for m in queued_on_session(broker, connection, details_checks=True)
              if m.actor_name == check_contact_details.actor_name]
    assert sorted(checks) == sorted([(connection.id, new.id), (connection.id, checked_long_ago.id)])


def test_asking_again_downloads_only_a_new_picture_and_a_picture_taken_away_leaves_none(
        client, admin_headers, factories, company, connection, redis_client, picture_server, worker, gateway):
    contact = factories.contact(company, phone=CUSTOMER)
    picture_server.answer(webhook_receiver.Answer(body=jpeg(), headers={"Content-Type": "image/jpeg"}))
    assert wait_for(lambda: client.get(f"/api/connections/{connection.id}", headers=admin_headers)
                    .get_json()["status"] == "connected", timeout=20)

    first = fetched(client, admin_headers, contact)
    drawn = picture_of(contact)
    again = fetched(client, admin_headers, contact)
    kept = picture_of(contact)
    network = client.patch(f"/api/simulator/{connection.id}", json={"profilePictures": {CUSTOMER: picture_server.url}},
                           headers=admin_headers).get_json()
    fetched(client, admin_headers, contact)
    replaced = picture_of(contact)
    shown = opened(client, client.get(f"/api/contacts/{contact.id}", headers=admin_headers).get_json()["profilePicUrl"])
    simulator.configure(redis_client, connection.id, profilePictures={CUSTOMER: None})  # hidden, or taken away
    hidden = fetched(client, admin_headers, contact)

    assert (first.status, first.result["downloading"], first.queue_name) == ("done", True, gateway_queue(connection.id))
    assert again.result == {"contactId": contact.id, "pictureId": drawn[1], "downloading": False} and kept == drawn
    assert network["profilePictures"] == {CUSTOMER: picture_server.url}
    assert replaced[0].endswith(".jpg") and shown == jpeg() and len(picture_server.received) == 1
    assert hidden.result == {"contactId": contact.id, "pictureId": None, "downloading": False}
    assert not media_store().path(drawn[0]).exists() and not media_store().path(replaced[0]).exists()
    contact_json = client.get(f"/api/contacts/{contact.id}", headers=admin_headers).get_json()
    assert contact_json["profilePicUrl"] is None and "profilePicPath" not in contact_json


def test_a_picture_seen_before_the_last_check_or_that_is_no_image_is_not_kept(
        factories, company, picture_server):
    contact = factories.contact(company, phone=CUSTOMER, profile_pic_checked_at=utcnow())
    picture_server.answer(webhook_receiver.Answer(body=b"%PDF-1.4", headers={"Content-Type": "application/pdf"}))
    files_before = set(media_store().root.glob("*/*"))

    store_profile_picture.fn(contact.id, "OLD", (utcnow() - dt.timedelta(minutes=1)).isoformat(), None, "iVBORw0KGgo=")
    store_profile_picture.fn(contact.id, "PDF", utcnow().isoformat(), picture_server.url, None)

    assert picture_of(contact) == (None, None)
    assert set(media_store().root.glob("*/*")) == files_before  # nothing left behind


def test_every_role_may_ask_for_a_contacts_picture_and_programs_need_contacts_write(
        client, app, factories, company, connection):
    contact = factories.contact(company)
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    reader = {"X-API-Key": factories.api_key(company, ["contacts:read"])}
    writer = {"X-API-Key": factories.api_key(company, ["contacts:write"])}
    foreign = factories.contact(factories.company())

    answers = [client.post(f"/api/contacts/{contact.id}/profile-picture", headers=headers).status_code
               for headers in (agent, reader, writer)]
    not_ours = client.post(f"/api/contacts/{foreign.id}/profile-picture", headers=agent)
    stopped = factories.connection(company, enabled=False)
    on_stopped = client.post(f"/api/contacts/{contact.id}/profile-picture", json={"connectionId": stopped.id},
                             headers=agent)

    assert answers == [202, 403, 202]
    assert not_ours.status_code == 404
    assert (on_stopped.status_code, on_stopped.get_json()["details"]) == (409, {"connectionId": "stopped"})
