"""Contact lists: admins and supervisors make and fill them, everyone reads them; adding is idempotent and all
or nothing; another company's ids are 404s."""

from __future__ import annotations

import pytest

from db.contact_lists import ContactList, ContactListItem
from db.contacts import Contact


@pytest.mark.parametrize("role, allowed", [("super", True), ("admin", True), ("supervisor", True), ("agent", False)])
def test_admins_and_supervisors_manage_lists_and_every_role_reads_them(client, factories, app, role, allowed):
    user = factories.user(role=role)
    existing = factories.contact_list(user.company, name="Existing")
    contact = factories.contact(user.company)
    headers = factories.auth_headers(app, user)

    created = client.post("/api/contact-lists", headers=headers, json={"name": "Black Friday"})
    added = client.post(f"/api/contact-lists/{existing.id}/items", headers=headers, json={"contactIds": [contact.id]})

    assert (created.status_code, added.status_code) == ((201, 200) if allowed else (403, 403))
    assert ContactList.select().where(ContactList.company == user.company).count() == (2 if allowed else 1)
    assert ContactListItem.select().count() == (1 if allowed else 0)
    assert client.get("/api/contact-lists", headers=headers).status_code == 200
    assert client.get(f"/api/contact-lists/{existing.id}/items", headers=headers).status_code == 200


def test_a_list_is_created_renamed_and_its_name_is_unique_in_the_company(client, factories, app):
    admin = factories.user()
    factories.contact_list(admin.company, name="Taken")
    headers = factories.auth_headers(app, admin)

    created = client.post("/api/contact-lists", headers=headers, json={"name": "Customers"})
    duplicate = client.post("/api/contact-lists", headers=headers, json={"name": "Taken"})
    renamed = client.patch(f"/api/contact-lists/{created.get_json()['id']}", headers=headers, json={"name": "Clients"})
    clash = client.patch(f"/api/contact-lists/{created.get_json()['id']}", headers=headers, json={"name": "Taken"})

    assert created.status_code == 201
    assert {k: created.get_json()[k] for k in ("name", "itemCount")} == {"name": "Customers", "itemCount": 0}
    assert duplicate.status_code == clash.status_code == 409
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "Clients"
    assert client.post("/api/contact-lists", headers=headers, json={"name": ""}).status_code == 400


def test_adding_contacts_twice_keeps_each_once(client, factories, app):
    admin = factories.user()
    contact_list = factories.contact_list(admin.company)
    first, second, third = (factories.contact(admin.company) for _ in range(3))
    headers = factories.auth_headers(app, admin)
    url = f"/api/contact-lists/{contact_list.id}/items"

    once = client.post(url, headers=headers, json={"contactIds": [first.id, second.id, first.id]})
    again = client.post(url, headers=headers, json={"contactIds": [second.id, third.id]})

    assert once.status_code == again.status_code == 200
    assert once.get_json() == {"added": 2, "itemCount": 2}
    assert again.get_json() == {"added": 1, "itemCount": 3}
    assert client.get(f"/api/contact-lists/{contact_list.id}", headers=headers).get_json()["itemCount"] == 3


def test_one_foreign_or_unknown_contact_adds_none(client, factories, app):
    admin = factories.user()
    contact_list = factories.contact_list(admin.company)
    mine = factories.contact(admin.company)
    theirs = factories.contact(factories.company())

    response = client.post(f"/api/contact-lists/{contact_list.id}/items", headers=factories.auth_headers(app, admin),
                           json={"contactIds": [mine.id, theirs.id, 999999]})

    assert response.status_code == 404
    assert response.get_json()["details"] == {"contactIds": f"unknown ids: [{theirs.id}, 999999]"}
    assert ContactListItem.select().count() == 0


def test_items_are_paged_contacts_in_the_order_they_were_added(client, factories, app):
    admin = factories.user(role="agent")
    contact_list = factories.contact_list(admin.company)
    contacts = [factories.contact(admin.company, name=f"Contact {n}") for n in range(5)]
    for contact in reversed(contacts):
        ContactListItem.create(contact_list=contact_list, contact=contact)
    factories.contact(admin.company, name="Not in the list")

    page = client.get(f"/api/contact-lists/{contact_list.id}/items?pageSize=2&page=2",
                      headers=factories.auth_headers(app, admin)).get_json()

    assert (page["total"], [item["name"] for item in page["items"]]) == (5, ["Contact 2", "Contact 1"])
    assert set(page["items"][0]) >= {"id", "phone", "tags", "customFields", "blocked"}


def test_an_item_is_removed_once_and_its_contact_stays(client, factories, app):
    admin = factories.user(role="supervisor")
    contact_list = factories.contact_list(admin.company)
    contact = factories.contact(admin.company)
    ContactListItem.create(contact_list=contact_list, contact=contact)
    url = f"/api/contact-lists/{contact_list.id}/items/{contact.id}"
    headers = factories.auth_headers(app, admin)

    assert client.delete(url, headers=headers).status_code == 204
    assert client.delete(url, headers=headers).status_code == 404
    assert Contact.get_by_id(contact.id) is not None


def test_deleting_a_list_keeps_its_contacts(client, factories, app):
    admin = factories.user()
    contact_list = factories.contact_list(admin.company)
    contact = factories.contact(admin.company)
    ContactListItem.create(contact_list=contact_list, contact=contact)

    response = client.delete(f"/api/contact-lists/{contact_list.id}", headers=factories.auth_headers(app, admin))

    assert response.status_code == 204
    assert ContactListItem.select().count() == 0 and Contact.select().count() == 1


def test_lists_show_their_sizes_and_are_searchable(client, factories, app):
    admin = factories.user()
    big = factories.contact_list(admin.company, name="Big customers")
    factories.contact_list(admin.company, name="Leads")
    for _ in range(3):
        ContactListItem.create(contact_list=big, contact=factories.contact(admin.company))

    body = client.get("/api/contact-lists?search=CUSTOM", headers=factories.auth_headers(app, admin)).get_json()

    assert [(item["name"], item["itemCount"]) for item in body["items"]] == [("Big customers", 3)]


def test_another_company_s_list_is_a_404_everywhere(client, factories, app):
    admin = factories.user()
    foreign = factories.contact_list(factories.company(), name="Theirs")
    contact = factories.contact(admin.company)
    headers = factories.auth_headers(app, admin)
    url = f"/api/contact-lists/{foreign.id}"

    assert client.get(url, headers=headers).status_code == 404
    assert client.patch(url, headers=headers, json={"name": "Mine"}).status_code == 404
    assert client.post(f"{url}/items", headers=headers, json={"contactIds": [contact.id]}).status_code == 404
    assert client.get(f"{url}/items", headers=headers).status_code == 404
    assert client.delete(f"{url}/items/{contact.id}", headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404
    assert ContactList.get_by_id(foreign.id).name == "Theirs" and ContactListItem.select().count() == 0
