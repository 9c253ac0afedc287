"""Media: an uploaded file or a URL is sent as the right WhatsApp type; a refused file writes nothing."""

from __future__ import annotations

import io

import pytest

from db.messages import Message
from tests.file_server import EXE, PDF, PNG, served, slow_file_released
from tests.waiting import wait_for
from wharf.media import MediaUnavailable
from workers import remote_media
from workers.transports import simulator
from workers.watchdogs import oldest_sending_by_connection


@pytest.fixture
def company(factories):
    return factories.company()


@pytest.fixture
def as_admin(app, factories, company):
    return factories.auth_headers(app, factories.user(company, role="admin"))


@pytest.fixture
def connection(factories, company, redis_client):
    connection = factories.connection(company, enabled=True, is_default=True)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=-1, readAfterMs=-1)
    return connection


def test_an_uploaded_image_is_sent_as_an_image_with_its_caption(client, as_admin, connection, redis_client,
                                                               worker, gateway):
    answer = client.post("/api/messages", headers=as_admin, content_type="multipart/form-data",
                         data={"to": "+5511987654321", "body": "the photo", "file": (io.BytesIO(PNG),
                                                                                       "photo.png", "image/png")})

    assert answer.status_code == 202, answer.get_json()
    message = Message.get_by_id(answer.get_json()["id"])
    assert (message.type, message.media_mimetype, message.media_name) == ("image", "image/png", "photo.png")
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=20)
    entry = simulator.outbox(redis_client, connection.id)[0][0]
    assert (entry["type"], entry["body"]) == ("image", "the photo")


def test_a_media_url_is_fetched_and_sent_as_a_document(client, as_admin, connection, redis_client, file_server,
                                                       worker, gateway):
    answer = client.post("/api/messages", headers=as_admin,
                         json={"to": "+5511987654321", "mediaUrl": f"{file_server}/invoice.pdf"})

    assert answer.status_code == 202, answer.get_json()
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=20)
    assert simulator.outbox(redis_client, connection.id)[0][0]["type"] == "document"


def test_a_slow_media_url_holds_back_its_own_message_only(client, as_admin, connection, redis_client, file_server,
                                                         worker, gateway):
    slow = client.post("/api/messages", headers=as_admin,
                       json={"to": "+5511987654321", "mediaUrl": f"{file_server}/slow.pdf"}).get_json()
    meanwhile = client.post("/api/messages", headers=as_admin,
                            json={"to": "+5511912345678", "body": "meanwhile"}).get_json()

    # the connection's other sends go out while the file is on its way (sent: recorded after the network has it)
    assert wait_for(lambda: Message.get_by_id(meanwhile["id"]).status in ("sent", "delivered", "read"), timeout=10)
    assert [entry["body"] for entry in simulator.outbox(redis_client, connection.id)[0]] == ["meanwhile"]
    # retried until its file is in; never handed to the session meanwhile, so not taken for a hung session
    assert Message.get_by_id(slow["id"]).status == "queued"
    assert connection.id not in oldest_sending_by_connection()

    slow_file_released.set()

    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 2, timeout=20)
    assert wait_for(lambda: Message.get_by_id(slow["id"]).status == "sent", timeout=10)
    types = sorted(entry["type"] for entry in simulator.outbox(redis_client, connection.id)[0])
    assert types == ["document", "text"]


def test_a_downloaded_file_serves_later_batches_and_a_failed_download_is_tried_again(file_server, monkeypatch):
    media = remote_media.RemoteMedia()
    invoice, missing = f"{file_server}/invoice.pdf", f"{file_server}/missing.pdf"

    media.prefetch([(invoice, False), (missing, False)])
    media.prefetch([(invoice, False)])  # a later batch of the same campaign
    assert media.take(invoice) == {"mimetype": "application/pdf", "filename": "invoice.pdf", "data": PDF}
    with pytest.raises(MediaUnavailable, match="404"):
        media.take(missing)
    assert (served["/invoice.pdf"], served["/missing.pdf"]) == (1, 1)

    monkeypatch.setattr(remote_media, "FAILED_KEEP_SECONDS", 0)  # the retry comes after the failure is let go
    media.prefetch([(invoice, False), (missing, False)])
    assert (served["/invoice.pdf"], served["/missing.pdf"]) == (1, 2)


def test_past_its_byte_budget_the_least_recently_used_download_is_let_go(file_server, monkeypatch):
    monkeypatch.setattr(remote_media, "KEEP_BYTES", len(PDF))  # room for one file
    media = remote_media.RemoteMedia()
    first, second = f"{file_server}/invoice.pdf?a", f"{file_server}/invoice.pdf?b"

    for url in (first, second, second, first):
        media.prefetch([(url, False)])

    assert (served["/invoice.pdf?a"], served["/invoice.pdf?b"]) == (2, 1)


def test_a_media_url_that_is_gone_fails_the_message_at_once(client, as_admin, connection, redis_client,
                                                             file_server, worker, gateway):
    answer = client.post("/api/messages", headers=as_admin,
                         json={"to": "+5511987654321", "mediaUrl": f"{file_server}/missing.pdf"})

    assert wait_for(lambda: Message.get_by_id(answer.get_json()["id"]).status == "failed", timeout=20)
    assert "404" in Message.get_by_id(answer.get_json()["id"]).error
    assert simulator.outbox(redis_client, connection.id)[1] == 0


def test_a_media_url_into_a_private_network_is_a_400_and_writes_nothing(client, as_admin, connection):
    answer = client.post("/api/messages", headers=as_admin,
                         json={"to": "+5511987654321", "mediaUrl": "http://169.254.169.254/latest/meta-data"})

    assert answer.status_code == 400
    assert "169.254.169.254" in answer.get_json()["details"]["mediaUrl"]
    assert Message.select().count() == 0


def test_a_file_of_a_refused_type_is_a_400_and_writes_nothing(client, as_admin, connection):
    answer = client.post("/api/messages", headers=as_admin, content_type="multipart/form-data",
                         data={"to": "+5511987654321", "file": (io.BytesIO(b"MZ\x90\x00"),
                                                                "setup.exe", "application/x-msdownload")})

    assert answer.status_code == 400
    assert answer.get_json()["details"]["file"].startswith("files of type application/x-msdownload")
    assert Message.select().count() == 0


def test_a_file_whose_content_is_not_its_declared_type_is_a_400_and_writes_nothing(client, as_admin, connection):
    answer = client.post("/api/messages", headers=as_admin, content_type="multipart/form-data",
                         data={"to": "+5511987654321", "file": (io.BytesIO(EXE), "photo.png", "image/png")})

    assert answer.status_code == 400
    assert answer.get_json()["details"]["file"] == "the file's content is not image/png"
    assert Message.select().count() == 0


def test_a_media_url_is_sent_as_its_content_shows_and_a_disguised_one_fails(client, as_admin, connection,
                                                                           redis_client, file_server, worker,
                                                                           gateway):
    document = client.post("/api/messages", headers=as_admin,
                           json={"to": "+5511987654321", "mediaUrl": f"{file_server}/download.pdf"}).get_json()
    disguised = client.post("/api/messages", headers=as_admin,
                            json={"to": "+5511987654321", "mediaUrl": f"{file_server}/photo.png"}).get_json()

    assert wait_for(lambda: Message.get_by_id(disguised["id"]).status == "failed", timeout=20)
    assert "the file's content is not image/png" in Message.get_by_id(disguised["id"]).error
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=20)
    assert simulator.outbox(redis_client, connection.id)[0][0]["type"] == "document"
    assert Message.get_by_id(document["id"]).status != "failed"


def test_one_file_per_message_and_not_beside_a_media_url(client, as_admin, connection, file_server):
    two_files = client.post("/api/messages", headers=as_admin, content_type="multipart/form-data",
                            data={"to": "+5511987654321",
                                  "file": [(io.BytesIO(PDF), "a.pdf", "application/pdf"),
                                           (io.BytesIO(PDF), "b.pdf", "application/pdf")]})
    file_and_url = client.post("/api/messages", headers=as_admin, content_type="multipart/form-data",
                               data={"to": "+5511987654321", "mediaUrl": f"{file_server}/invoice.pdf",
                                     "file": (io.BytesIO(PDF), "a.pdf", "application/pdf")})

    assert two_files.status_code == file_and_url.status_code == 400
    assert two_files.get_json()["details"] == {"file": "more than one file"}
    assert file_and_url.get_json()["details"] == {"mediaUrl": "a file is given too"}
    assert Message.select().count() == 0
