"""The number's own WhatsApp profile: name, about text and picture, kept on the connection and set by its session
(workers/own_profile.py), each change a job whose result says what WhatsApp shows."""

from __future__ import annotations

from io import BytesIO
from urllib.parse import urlparse

import pytest
from PIL import Image

from db.connections import Connection
from db.jobs import Job
from tests.waiting import finished_job, wait_for
from workers.messages import gateway_queue


def png(width: int, height: int) -> bytes:
    out = BytesIO()
    Image.new("RGBA", (width, height), (200, 30, 30, 128)).save(out, format="PNG")
    return out.getvalue()


def test_the_name_about_and_picture_are_set_on_whatsapp_shown_by_the_connection_and_the_picture_removed(
        client, admin_headers, connection, worker, gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    profile = f"/api/connections/{connection.id}/profile"

    named = finished_job(client.patch(profile, json={"name": "Loja Centro", "about": "Das 8h às 18h"},
                                  headers=admin_headers))
    pictured = finished_job(client.put(f"{profile}/picture", data={"file": (BytesIO(png(800, 400)), "logo.png",
                                                                        "image/png")}, headers=admin_headers))
    network = client.get(f"/api/simulator/{connection.id}/profile", headers=admin_headers).get_json()
    shown = client.get(profile, headers=admin_headers).get_json()
    picture = client.get(urlparse(shown["pictureUrl"]).path)

    assert (named.status, named.queue_name) == ("done", gateway_queue(connection.id))
    assert named.result == {"connectionId": connection.id, "name": "Loja Centro", "about": "Das 8h às 18h"}
    assert pictured.status == "done" and pictured.result["pictureId"]
    assert network == {"name": "Loja Centro", "about": "Das 8h às 18h", "pictureId": pictured.result["pictureId"],
                       "pictureSize": [640, 640]}
    assert (shown["name"], shown["about"], shown["pictureId"]) == ("Loja Centro", "Das 8h às 18h",
                                                                   pictured.result["pictureId"])
    assert (picture.status_code, picture.mimetype) == (200, "image/jpeg")
    assert Image.open(BytesIO(picture.data)).size == (640, 640)

    old_link = urlparse(shown["pictureUrl"]).path
    removed = finished_job(client.delete(f"{profile}/picture", headers=admin_headers))
    network = client.get(f"/api/simulator/{connection.id}/profile", headers=admin_headers).get_json()
    shown = client.get(profile, headers=admin_headers).get_json()

    assert removed.result == {"connectionId": connection.id, "pictureId": None}
    assert (network["pictureId"], network["pictureSize"], network["name"]) == (None, None, "Loja Centro")
    assert (shown["pictureUrl"], shown["pictureId"], shown["name"]) == (None, None, "Loja Centro")
    assert client.get(old_link).status_code == 404  # the file went with it


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 26}, "name"),
    ({"name": None}, "name"),
    ({"about": "x" * 140}, "about"),
])
def test_a_profile_change_whatsapp_would_not_take_is_a_400_naming_the_field(client, admin_headers, connection, body,
                                                                            field):
    answer = client.patch(f"/api/connections/{connection.id}/profile", json=body, headers=admin_headers)

    assert (answer.status_code, answer.get_json()["error"]) == (400, "validation_error")
    assert field in answer.get_json()["details"]
    assert Job.select().count() == 0


@pytest.mark.parametrize("upload", [
    {},
    {"file": (BytesIO(b"%PDF-1.4\n%%EOF\n"), "menu.pdf", "application/pdf")},
    {"file": (BytesIO(b"MZ\x90\x00 not a picture"), "logo.png", "image/png")},
], ids=["no file", "a pdf", "not the image it claims"])
def test_a_picture_that_is_no_jpeg_or_png_is_a_400_naming_the_file(client, admin_headers, connection, upload):
    answer = client.put(f"/api/connections/{connection.id}/profile/picture", data=upload, headers=admin_headers)

    assert (answer.status_code, list(answer.get_json()["details"])) == (400, ["file"])
    assert Connection.get_by_id(connection.id).profile_picture_path is None and Job.select().count() == 0


def test_only_admins_change_the_profile_of_a_started_connection_of_their_company(app, client, admin_headers,
                                                                                 factories, company, connection):
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    stopped = factories.connection(company, enabled=False)
    foreign = factories.connection(factories.company(), enabled=True)

    as_agent = client.patch(f"/api/connections/{connection.id}/profile", json={"name": "Loja"}, headers=agent)
    on_stopped = client.patch(f"/api/connections/{stopped.id}/profile", json={"name": "Loja"}, headers=admin_headers)
    on_foreign = client.delete(f"/api/connections/{foreign.id}/profile/picture", headers=admin_headers)

    assert as_agent.status_code == 403 and on_foreign.status_code == 404
    assert (on_stopped.status_code, on_stopped.get_json()["details"]) == (409, {"connectionId": "stopped"})
    assert Connection.get_by_id(stopped.id).profile_name is None and Job.select().count() == 0
