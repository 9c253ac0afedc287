"""Tags: admins and supervisors manage them, everyone reads them; names unique per company in any case."""

from __future__ import annotations

import pytest

from db.audit import AuditLog
from db.contacts import ContactTag, Tag
from db.tickets import TicketTag


@pytest.mark.parametrize("role, allowed", [("super", True), ("admin", True), ("supervisor", True), ("agent", False)])
def test_admins_and_supervisors_create_tags_and_every_role_reads_them(client, factories, app, role, allowed):
    user = factories.user(role=role)
    headers = factories.auth_headers(app, user)

    response = client.post("/api/tags", headers=headers, json={"name": "VIP", "color": "#FF0000"})

    assert response.status_code == (201 if allowed else 403)
    assert Tag.select().where(Tag.company == user.company).count() == (1 if allowed else 0)
    listed = client.get("/api/tags", headers=headers)
    assert listed.status_code == 200 and listed.get_json()["total"] == (1 if allowed else 0)


def test_a_tag_is_created_with_its_colour_and_counts(client, factories, app):
    admin = factories.user()

    response = client.post("/api/tags", headers=factories.auth_headers(app, admin), json={"name": "VIP", "color": "#FF00aa"})

    assert response.status_code == 201
    body = response.get_json()
    assert {k: body[k] for k in ("name", "color", "contactCount", "ticketCount")} == {
        "name": "VIP", "color": "#ff00aa", "contactCount": 0, "ticketCount": 0}
    assert AuditLog.get(AuditLog.entity == "tag").action == "created"


@pytest.mark.parametrize("payload, field", [
    ({"name": "VIP", "color": "red"}, "color"),
    ({"name": "VIP", "color": "#ff00aa80"}, "color"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"color": "#000000"}, "name"),
])
def test_invalid_tags_are_a_400_naming_the_field(client, factories, app, payload, field):
    admin = factories.user()

    response = client.post("/api/tags", headers=factories.auth_headers(app, admin), json=payload)

    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert Tag.select().count() == 0


def test_a_name_taken_in_any_case_is_a_409_but_another_company_may_use_it(client, factories, app):
    admin = factories.user()
    factories.tag(admin.company, name="VIP")
    other = factories.tag(admin.company, name="Lead")
    stranger = factories.user()
    headers = factories.auth_headers(app, admin)

    created = client.post("/api/tags", headers=headers, json={"name": "vip"})
    renamed = client.patch(f"/api/tags/{other.id}", headers=headers, json={"name": "Vip"})
    elsewhere = client.post("/api/tags", headers=factories.auth_headers(app, stranger), json={"name": "VIP"})

    assert created.status_code == renamed.status_code == 409
    assert created.get_json()["details"] == {"name": "already taken"}
    assert Tag.get_by_id(other.id).name == "Lead"
    assert elsewhere.status_code == 201


def test_counts_say_how_many_contacts_and_tickets_carry_the_tag(client, factories, app):
    admin = factories.user()
    tag = factories.tag(admin.company, name="VIP")
    for _ in range(2):
        ContactTag.create(contact=factories.contact(admin.company), tag=tag)
    TicketTag.create(ticket=factories.ticket(admin.company), tag=tag)

    body = client.get(f"/api/tags/{tag.id}", headers=factories.auth_headers(app, admin)).get_json()

    assert (body["contactCount"], body["ticketCount"]) == (2, 1)


def test_the_list_is_searchable_and_sorted_by_name(client, factories, app):
    admin = factories.user()
    for name in ("Zeta", "alpha", "Beta"):
        factories.tag(admin.company, name=name)

    everything = client.get("/api/tags", headers=factories.auth_headers(app, admin)).get_json()
    found = client.get("/api/tags?search=ETA", headers=factories.auth_headers(app, admin)).get_json()

    assert [tag["name"] for tag in everything["items"]] == ["Beta", "Zeta", "alpha"]
    assert sorted(tag["name"] for tag in found["items"]) == ["Beta", "Zeta"]


def test_patch_changes_the_colour_and_keeps_the_name(client, factories, app):
    admin = factories.user()
    tag = factories.tag(admin.company, name="VIP")

    response = client.patch(f"/api/tags/{tag.id}", headers=factories.auth_headers(app, admin), json={"color": "#00FF00"})

    assert response.status_code == 200
    assert (Tag.get_by_id(tag.id).name, Tag.get_by_id(tag.id).color) == ("VIP", "#00ff00")


def test_deleting_a_tag_takes_it_off_contacts_and_tickets(client, factories, app):
    admin = factories.user(role="supervisor")
    tag = factories.tag(admin.company)
    contact = factories.contact(admin.company)
    ContactTag.create(contact=contact, tag=tag)
    TicketTag.create(ticket=factories.ticket(admin.company, contact=contact), tag=tag)

    response = client.delete(f"/api/tags/{tag.id}", headers=factories.auth_headers(app, admin))

    assert response.status_code == 204
    assert ContactTag.select().count() == TicketTag.select().count() == 0
    assert contact.__class__.get_by_id(contact.id).phone == contact.phone


def test_another_company_s_tag_is_a_404(client, factories, app):
    admin = factories.user()
    foreign = factories.tag(factories.company(), name="Theirs")
    headers = factories.auth_headers(app, admin)

    assert client.get(f"/api/tags/{foreign.id}", headers=headers).status_code == 404
    assert client.patch(f"/api/tags/{foreign.id}", headers=headers, json={"name": "Mine"}).status_code == 404
    assert client.delete(f"/api/tags/{foreign.id}", headers=headers).status_code == 404
    assert Tag.get_by_id(foreign.id).name == "Theirs"


def test_programs_read_tags_with_contacts_read_and_write_them_with_contacts_write(client, factories):
    company = factories.company()
    reader = factories.api_key(company, ["contacts:read"])
    writer = factories.api_key(company, ["contacts:write"])

    denied = client.post("/api/tags", headers={"X-API-Key": reader}, json={"name": "VIP"})
    created = client.post("/api/tags", headers={"X-API-Key": writer}, json={"name": "VIP"})

    assert denied.status_code == 403 and created.status_code == 201
    assert client.get("/api/tags", headers={"X-API-Key": reader}).get_json()["total"] == 1
