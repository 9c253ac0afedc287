"""Quick messages: company-wide ones for everyone (managers write them), personal ones for their owner only,
shortcuts unique per scope, a file uploaded to go along, and variables filled when rendered."""

from __future__ import annotations

import io
from urllib.parse import urlparse

import pytest

from db.messages import QuickMessage
from tests.file_server import EXE, PDF
from tests.voice_tones import tone


def create(client, headers, **fields):
    return client.post("/api/quick-messages", headers=headers, json={"shortcut": "hello", "body": "Hi!", **fields})


@pytest.mark.parametrize("role, allowed", [("super", True), ("admin", True), ("supervisor", True), ("agent", False)])
def test_company_wide_quick_messages_are_written_by_managers_only(client, factories, app, role, allowed):
    user = factories.user(role=role)

    response = create(client, factories.auth_headers(app, user), scope="company")

    assert response.status_code == (201 if allowed else 403)
    assert QuickMessage.select().where(QuickMessage.user.is_null()).count() == (1 if allowed else 0)


def test_everyone_sees_the_company_s_and_only_their_own_personal_ones(client, factories, app):
    admin = factories.user()
    ana = factories.user(company=admin.company, role="agent")
    bob = factories.user(company=admin.company, role="agent")
    company_wide = QuickMessage.create(company=admin.company, shortcut="hours", body="8 to 18")
    anas = QuickMessage.create(company=admin.company, user=ana, shortcut="sig", body="Ana")
    bobs = QuickMessage.create(company=admin.company, user=bob, shortcut="sig", body="Bob")
    QuickMessage.create(company=factories.company(), shortcut="hours", body="elsewhere")

    def listed(user, query=""):
        return [item["id"] for item in client.get(f"/api/quick-messages{query}",
                                                  headers=factories.auth_headers(app, user)).get_json()["items"]]

    assert listed(ana) == [company_wide.id, anas.id]
    assert listed(bob) == [company_wide.id, bobs.id]
    assert listed(admin) == [company_wide.id]
    assert listed(ana, "?scope=personal") == [anas.id]
    assert listed(ana, "?search=HOU") == [company_wide.id]
    assert client.get(f"/api/quick-messages/{bobs.id}", headers=factories.auth_headers(app, ana)).status_code == 404
    assert client.delete(f"/api/quick-messages/{bobs.id}", headers=factories.auth_headers(app, admin)).status_code == 404


def test_a_personal_shortcut_hides_the_company_s_one_of_the_same_name_for_its_owner(client, factories, app):
    agent = factories.user(role="agent")
    company_wide = QuickMessage.create(company=agent.company, shortcut="bye", body="Goodbye from us")
    mine = QuickMessage.create(company=agent.company, user=agent, shortcut="bye", body="See you!")
    headers = factories.auth_headers(app, agent)

    listed = client.get("/api/quick-messages", headers=headers).get_json()["items"]
    company_only = client.get("/api/quick-messages?scope=company", headers=headers).get_json()["items"]

    assert [item["id"] for item in listed] == [mine.id]
    assert [item["id"] for item in company_only] == [company_wide.id]


def test_shortcuts_are_normalised_and_unique_per_scope(client, factories, app):
    admin = factories.user()
    headers = factories.auth_headers(app, admin)

    first = create(client, headers, shortcut="/Hello")
    again = create(client, headers, shortcut="hello")
    company_wide = create(client, headers, shortcut="hello", scope="company")
    bad = create(client, headers, shortcut="two words")

    assert first.status_code == 201 and first.get_json()["shortcut"] == "hello"
    assert first.get_json()["scope"] == "personal" and first.get_json()["userId"] == admin.id
    assert again.status_code == 409
    assert company_wide.status_code == 201 and company_wide.get_json()["userId"] is None
    assert bad.status_code == 400 and "shortcut" in bad.get_json()["details"]
    renamed = client.patch(f"/api/quick-messages/{company_wide.get_json()['id']}", headers=headers,
                           json={"shortcut": "/HELLO"})
    assert renamed.status_code == 200


def test_an_agent_edits_their_own_but_not_the_company_s(client, factories, app):
    agent = factories.user(role="agent")
    company_wide = QuickMessage.create(company=agent.company, shortcut="hours", body="8 to 18")
    mine = QuickMessage.create(company=agent.company, user=agent, shortcut="sig", body="Ana")
    headers = factories.auth_headers(app, agent)

    edit_company = client.patch(f"/api/quick-messages/{company_wide.id}", headers=headers, json={"body": "24/7"})
    edit_mine = client.patch(f"/api/quick-messages/{mine.id}", headers=headers, json={"body": "Ana, Sales"})
    null_body = client.patch(f"/api/quick-messages/{mine.id}", headers=headers, json={"body": None})
    delete_company = client.delete(f"/api/quick-messages/{company_wide.id}", headers=headers)
    delete_mine = client.delete(f"/api/quick-messages/{mine.id}", headers=headers)

    assert edit_company.status_code == delete_company.status_code == 403
    assert edit_mine.status_code == 200 and edit_mine.get_json()["body"] == "Ana, Sales"
    assert null_body.status_code == 400
    assert delete_mine.status_code == 204
    assert QuickMessage.get_by_id(company_wide.id).body == "8 to 18"


def upload(client, headers, quick_id: int, data: bytes, name: str, mimetype: str, **fields):
    return client.put(f"/api/quick-messages/{quick_id}/media", headers=headers, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(data), name, mimetype), **fields})


def test_a_file_uploaded_to_a_quick_message_is_kept_shown_by_a_link_and_taken_away(client, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent")
    headers = factories.auth_headers(app, admin)
    quick = create(client, headers, scope="company").get_json()

    uploaded = upload(client, headers, quick["id"], PDF, "prices.pdf", "application/pdf")
    opened = client.get(urlparse(uploaded.get_json()["mediaUrl"]).path)
    not_a_png = upload(client, headers, quick["id"], EXE, "photo.png", "image/png")
    by_an_agent = upload(client, factories.auth_headers(app, agent), quick["id"], PDF, "mine.pdf", "application/pdf")
    taken_away = client.delete(f"/api/quick-messages/{quick['id']}/media", headers=headers)

    assert uploaded.status_code == 200, uploaded.get_json()
    assert (uploaded.get_json()["mediaMimetype"], uploaded.get_json()["mediaName"]) == ("application/pdf", "prices.pdf")
    assert (opened.status_code, opened.get_data()) == (200, PDF)
    assert not_a_png.status_code == 400 and "file" in not_a_png.get_json()["details"]
    assert by_an_agent.status_code == 403
    assert taken_away.status_code == 200 and taken_away.get_json()["mediaUrl"] is None
    assert create(client, headers, shortcut="x", mediaPath="1/a.pdf").status_code == 400  # a file is uploaded


def test_a_recording_uploaded_to_a_quick_message_is_kept_as_a_voice_note(client, factories, app):
    headers = factories.auth_headers(app, factories.user())
    quick = create(client, headers).get_json()

    uploaded = upload(client, headers, quick["id"], tone("webm", "libopus"), "hello.webm", "audio/webm")

    assert (uploaded.get_json()["mediaMimetype"], uploaded.get_json()["mediaName"]) == ("audio/ogg", "hello.ogg")


def test_rendering_fills_variables_from_the_caller_the_ticket_and_the_values_given(client, factories, app):
    agent = factories.user(role="agent", name="Carla Dias")
    queue = factories.queue(agent.company, name="Sales")
    contact = factories.contact(agent.company, name="Maria da Silva", email="maria@example.com")
    ticket = factories.ticket(agent.company, contact=contact, queue=queue, user=agent, status="open")
    row = QuickMessage.create(company=agent.company, shortcut="hi",
                              body="Hi {{firstName}} ({{name}}, {{email}}), {{agent}} of {{queue}} here. {{coupon|no coupon}}")
    headers = factories.auth_headers(app, agent)

    from_ticket = client.post(f"/api/quick-messages/{row.id}/render", headers=headers, json={"ticketId": ticket.id})
    given = client.post(f"/api/quick-messages/{row.id}/render", headers=headers,
                        json={"variables": {"name": "João Pereira", "coupon": "WELCOME10"}})
    bare = client.post(f"/api/quick-messages/{row.id}/render", headers=headers)

    assert from_ticket.get_json()["text"] == (
        "Hi Maria (Maria da Silva, maria@example.com), Carla Dias of Sales here. no coupon")
    assert given.get_json()["text"] == "Hi João (João Pereira,), Carla Dias of here. WELCOME10"
    assert bare.status_code == 200 and bare.get_json()["text"] == "Hi (,), Carla Dias of here. no coupon"


def test_rendering_with_a_ticket_the_caller_cannot_see_is_a_404(client, factories, app):
    agent = factories.user(role="agent")
    hidden_queue = factories.queue(agent.company)
    ticket = factories.ticket(agent.company, queue=hidden_queue, status="open")
    row = QuickMessage.create(company=agent.company, shortcut="hi", body="Hi {{name}}")

    response = client.post(f"/api/quick-messages/{row.id}/render", headers=factories.auth_headers(app, agent),
                           json={"ticketId": ticket.id})

    assert response.status_code == 404
