"""Contacts: E.164 phones in the company's country, one per phone, typed custom fields, tags, search, filters,
sort, pages, export; every role edits, admins and supervisors delete and export."""

from __future__ import annotations

import contextlib
import csv
import io

import pytest

from db.contact_lists import ContactListItem
from db.contacts import Contact, ContactField, ContactTag
from db.webhooks import WebhookDelivery
from tests.workers.import_helpers import on_sqlite


def post_contact(client, factories, app, user, **payload):
    return client.post("/api/contacts", headers=factories.auth_headers(app, user), json=payload)


def test_a_contact_is_created_with_its_phone_in_e164_of_the_company_s_country(client, factories, app):
    brazil = factories.user(company=factories.company(default_country="BR"))
    portugal = factories.user(company=factories.company(default_country="PT"))
    vip = factories.tag(brazil.company, name="VIP", color="#ff0000")

    created = post_contact(client, factories, app, brazil, name="Ana", phone="(11) 98765-4321",
                           email="Ana@Example.com", tagIds=[vip.id, vip.id])
    lisbon = post_contact(client, factories, app, portugal, phone="912 345 678")

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert {k: body[k] for k in ("name", "phone", "email", "customFields", "blocked")} == {
        "name": "Ana", "phone": "+5511987654321", "email": "ana@example.com", "customFields": {}, "blocked": False}
    assert body["tags"] == [{"id": vip.id, "name": "VIP", "color": "#ff0000"}]
    assert body["createdAt"].endswith("Z") and body["updatedAt"].endswith("Z")
    assert lisbon.get_json()["phone"] == "+351912345678"


@pytest.mark.parametrize("phone, reason", [
    ("12345", "not a possible phone number"),
    ("not a phone", "not a phone number"),
    ("+55 11 0000-0000", "not a valid phone number"),
])
def test_an_invalid_phone_is_a_400_with_the_reason(client, factories, app, phone, reason):
    admin = factories.user()

    response = post_contact(client, factories, app, admin, name="X", phone=phone)

    assert response.status_code == 400
    assert reason in response.get_json()["details"]["phone"]
    assert Contact.select().count() == 0


def test_the_same_phone_in_another_form_is_a_409_in_the_company_but_not_in_another(client, factories, app):
    admin = factories.user()
    first = factories.contact(admin.company, phone="+5511987654321")
    second = factories.contact(admin.company, phone="+5511912345678")
    stranger = factories.user()

    again = post_contact(client, factories, app, admin, phone="011 98765 4321")
    moved = client.patch(f"/api/contacts/{second.id}", headers=factories.auth_headers(app, admin),
                         json={"phone": "+55 11 98765-4321"})
    elsewhere = post_contact(client, factories, app, stranger, phone="+5511987654321")

    assert again.status_code == moved.status_code == 409
    assert again.get_json()["details"] == {"phone": f"already contact {first.id}"}
    assert Contact.get_by_id(second.id).phone == "+5511912345678"
    assert elsewhere.status_code == 201


def test_custom_fields_are_checked_against_their_definitions(client, factories, app):
    admin = factories.user()
    headers = factories.auth_headers(app, admin)
    for key, kind in (("plan", "text"), ("score", "number"), ("birthday", "date"), ("vip", "boolean")):
        assert client.post("/api/contact-fields", headers=headers,
                           json={"key": key, "label": key.title(), "type": kind}).status_code == 201

    good = post_contact(client, factories, app, admin, phone="+5511987654321",
                        customFields={"plan": "Gold", "score": 9.5, "birthday": "1990-05-01", "vip": True})
    bad = post_contact(client, factories, app, admin, phone="+5511912345678",
                       customFields={"score": "9", "birthday": "01/05/1990", "vip": 1, "shoe": "42"})

    assert good.status_code == 201
    assert good.get_json()["customFields"] == {"plan": "Gold", "score": 9.5, "birthday": "1990-05-01", "vip": True}
    assert bad.status_code == 400
    assert set(bad.get_json()["details"]) == {"customFields.score", "customFields.birthday", "customFields.vip",
                                              "customFields.shoe"}
    assert "no such custom field" in bad.get_json()["details"]["customFields.shoe"]
    assert Contact.select().count() == 1


@pytest.mark.parametrize("where", ["postgresql", "sqlite"])
def test_contacts_are_found_by_a_custom_field_ignoring_case_and_accents(client, factories, app, tmp_path, where):
    with on_sqlite(tmp_path) if where == "sqlite" else contextlib.nullcontext():
        admin = factories.user()
        for key, kind in (("plan", "text"), ("score", "number"), ("vip", "boolean")):
            factories.contact_field(admin.company, key, kind)
        for name, fields in (("Ana", {"plan": "Ouro", "score": 9.5, "vip": True}), ("Bia", {"plan": "ouro", "vip": False}),
                             ("Caio", {"plan": "Básico"}), ("Davi", {}), ("Eva", {"plan": ""})):
            factories.contact(admin.company, name=name, custom_fields=fields)
        factories.contact(factories.company(), custom_fields={"plan": "ouro"})  # another company's

        def names(**query) -> list[str] | int:
            answer = client.get("/api/contacts", query_string={"sort": "name", **query},
                                headers=factories.auth_headers(app, admin))
            return [c["name"] for c in answer.get_json()["items"]] if answer.status_code == 200 else answer.status_code

        assert names(field="plan", value="OURO") == ["Ana", "Bia"]
        assert names(field="plan", value="basico") == ["Caio"]
        assert names(field="plan") == ["Ana", "Bia", "Caio"]  # any value; an empty one is none
        assert (names(field="vip", value="true"), names(field="score", value="9.5")) == (["Ana"], ["Ana"])
        assert names(field="shoe", value="42") == names(value="ouro") == 400


def test_patch_merges_custom_fields_null_removes_one_and_tag_ids_replace_the_tags(client, factories, app):
    admin = factories.user(role="agent")
    factories.contact_field(admin.company, "plan")
    factories.contact_field(admin.company, "score", "number")
    old, new = factories.tag(admin.company, name="Old"), factories.tag(admin.company, name="New")
    contact = factories.contact(admin.company, name="Bia", custom_fields={"plan": "Gold", "score": 3})
    ContactTag.create(contact=contact, tag=old)

    response = client.patch(f"/api/contacts/{contact.id}", headers=factories.auth_headers(app, admin),
                            json={"customFields": {"score": 4, "plan": None}, "tagIds": [new.id], "blocked": True})

    assert response.status_code == 200
    body = response.get_json()
    assert body["customFields"] == {"score": 4}
    assert [tag["name"] for tag in body["tags"]] == ["New"]
    assert body["blocked"] is True and body["name"] == "Bia"
    assert Contact.get_by_id(contact.id).custom_fields == {"score": 4}


@pytest.mark.parametrize("payload", [{"phone": None}, {"blocked": None}, {"tagIds": None}, {"email": "not-mail"},
                                     {"unknown": 1}])
def test_invalid_changes_are_a_400_and_change_nothing(client, factories, app, payload):
    admin = factories.user()
    contact = factories.contact(admin.company, name="Same")

    response = client.patch(f"/api/contacts/{contact.id}", headers=factories.auth_headers(app, admin), json=payload)

    assert response.status_code == 400
    assert Contact.get_by_id(contact.id).name == "Same"


def test_another_company_s_tag_is_a_404_and_writes_nothing(client, factories, app):
    admin = factories.user()
    foreign = factories.tag(factories.company())

    response = post_contact(client, factories, app, admin, phone="+5511987654321", tagIds=[foreign.id])

    assert response.status_code == 404
    assert Contact.select().count() == 0


def test_another_company_s_contact_is_a_404(client, factories, app):
    admin = factories.user()
    foreign = factories.contact(factories.company(), name="Theirs")
    headers = factories.auth_headers(app, admin)

    assert client.get(f"/api/contacts/{foreign.id}", headers=headers).status_code == 404
    assert client.patch(f"/api/contacts/{foreign.id}", headers=headers, json={"name": "Mine"}).status_code == 404
    assert client.delete(f"/api/contacts/{foreign.id}", headers=headers).status_code == 404
    assert Contact.get_by_id(foreign.id).name == "Theirs"


@pytest.mark.parametrize("role, may_delete", [("super", True), ("admin", True), ("supervisor", True),
                                              ("agent", False)])
def test_every_role_edits_contacts_and_admins_and_supervisors_delete_them(client, factories, app, role, may_delete):
    user = factories.user(role=role)
    headers = factories.auth_headers(app, user)

    created = post_contact(client, factories, app, user, name="Caio", phone="+5511987654321")
    contact_id = created.get_json()["id"]
    edited = client.patch(f"/api/contacts/{contact_id}", headers=headers, json={"name": "Caio Prado"})
    deleted = client.delete(f"/api/contacts/{contact_id}", headers=headers)

    assert created.status_code == 201 and edited.status_code == 200
    assert deleted.status_code == (204 if may_delete else 403)
    assert Contact.select().where(Contact.id == contact_id).exists() is not may_delete


def test_deleting_a_contact_takes_its_tickets_with_it(client, factories, app):
    admin = factories.user()
    ticket = factories.ticket(admin.company)

    response = client.delete(f"/api/contacts/{ticket.contact_id}", headers=factories.auth_headers(app, admin))

    assert response.status_code == 204
    assert not type(ticket).select().where(type(ticket).id == ticket.id).exists()


@pytest.fixture
def phonebook(factories):
    """Four contacts of one company (and one of another), with a tag and a list."""
    company = factories.company()
    vip = factories.tag(company, name="VIP")
    customers = factories.contact_list(company, name="Customers")
    ana = factories.contact(company, name="Ana Souza", phone="+5511987654321", email="ana@shop.com")
    bruno = factories.contact(company, name="bruno lima", phone="+5521912345678", email="BRUNO@mail.com")
    carla = factories.contact(company, name="Carla", phone="+5531998877665", blocked=True)
    dora = factories.contact(company, name="Dora", phone="+5511955554444")
    factories.contact(factories.company(), name="Ana of another company", phone="+5511987654321")
    for contact in (ana, carla):
        ContactTag.create(contact=contact, tag=vip)
    for contact in (bruno, carla):
        ContactListItem.create(contact_list=customers, contact=contact)
    return {"company": company, "vip": vip, "customers": customers, "ana": ana, "bruno": bruno, "carla": carla,
            "dora": dora}


def names(client, headers, query: str) -> list[str]:
    response = client.get(f"/api/contacts{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [item["name"] for item in response.get_json()["items"]]


def test_search_finds_name_phone_and_email_ignoring_case(client, factories, app, phonebook):
    headers = factories.auth_headers(app, factories.user(company=phonebook["company"], role="agent"))

    assert names(client, headers, "?search=ANA") == ["Ana Souza"]
    assert names(client, headers, "?search=Lima") == ["bruno lima"]
    assert names(client, headers, "?search=bruno@MAIL") == ["bruno lima"]
    assert names(client, headers, "?search=5511") == ["Ana Souza", "Dora"]
    assert names(client, headers, "?search=(31) 99887") == ["Carla"]
    assert names(client, headers, "?search=nobody") == []


def test_filters_by_tag_list_and_blocked_combine(client, factories, app, phonebook):
    headers = factories.auth_headers(app, factories.user(company=phonebook["company"]))
    vip, customers = phonebook["vip"].id, phonebook["customers"].id

    assert names(client, headers, f"?tag={vip}") == ["Ana Souza", "Carla"]
    assert names(client, headers, f"?list={customers}") == ["bruno lima", "Carla"]
    assert names(client, headers, f"?tag={vip}&list={customers}") == ["Carla"]
    assert names(client, headers, "?blocked=false&search=a") == ["Ana Souza", "bruno lima", "Dora"]


def test_a_filter_by_another_company_s_tag_or_list_is_a_404(client, factories, app, phonebook):
    headers = factories.auth_headers(app, factories.user())

    assert client.get(f"/api/contacts?tag={phonebook['vip'].id}", headers=headers).status_code == 404
    assert client.get(f"/api/contacts?list={phonebook['customers'].id}", headers=headers).status_code == 404


def test_sort_and_pages(client, factories, app, phonebook):
    headers = factories.auth_headers(app, factories.user(company=phonebook["company"]))

    assert names(client, headers, "") == ["Ana Souza", "bruno lima", "Carla", "Dora"]
    assert names(client, headers, "?sort=-createdAt") == ["Dora", "Carla", "bruno lima", "Ana Souza"]
    assert names(client, headers, "?sort=phone") == ["Dora", "Ana Souza", "bruno lima", "Carla"]
    page = client.get("/api/contacts?sort=-name&page=2&pageSize=3", headers=headers).get_json()
    assert (page["total"], page["page"], page["pageSize"], [c["name"] for c in page["items"]]) == (4, 2, 3, ["Ana Souza"])
    assert names(client, headers, "?sort=-email") == ["bruno lima", "Ana Souza", "Dora", "Carla"]  # no e-mail: last
    assert client.get("/api/contacts?sort=shoeSize", headers=headers).status_code == 400


def test_changes_are_announced_to_webhooks(client, factories, app, broker):
    admin = factories.user()
    factories.webhook(admin.company, events=["contact:*"])
    headers = factories.auth_headers(app, admin)

    contact_id = post_contact(client, factories, app, admin, name="Hooked", phone="+5511987654321").get_json()["id"]
    client.patch(f"/api/contacts/{contact_id}", headers=headers, json={"blocked": True})
    client.delete(f"/api/contacts/{contact_id}", headers=headers)

    deliveries = WebhookDelivery.select().order_by(WebhookDelivery.id)
    assert [d.event for d in deliveries] == ["contact:new", "contact:update", "contact:delete"]
    assert deliveries[1].payload["data"]["blocked"] is True


def export_rows(client, headers, query: str = "") -> tuple:
    response = client.get(f"/api/contacts/export{query}", headers=headers)
    return response, list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_export_streams_the_filtered_contacts_with_tags_and_custom_fields(client, factories, app, phonebook):
    company = phonebook["company"]
    factories.contact_field(company, "vip_since", "date")
    ana = phonebook["ana"]
    Contact.update(custom_fields={"vip_since": "2020-01-31"}).where(Contact.id == ana.id).execute()
    factories.contact(company, name='=HYPERLINK("http://evil")', phone="+5511900001111")
    headers = factories.auth_headers(app, factories.user(company=company, role="supervisor"))

    response, rows = export_rows(client, headers, f"?tag={phonebook['vip'].id}")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert list(rows[0]) == ["id", "name", "phone", "email", "tags", "blocked", "createdAt", "updatedAt", "vip_since"]
    assert [(r["name"], r["phone"], r["tags"], r["blocked"], r["vip_since"]) for r in rows] == [
        ("Ana Souza", "+5511987654321", "VIP", "false", "2020-01-31"), ("Carla", "+5531998877665", "VIP", "true", "")]
    _, everything = export_rows(client, headers, "?search=hyperlink")
    assert everything[0]["name"].startswith("'=")


def test_the_export_goes_through_every_batch_in_id_order(client, factories, app):
    admin = factories.user()
    Contact.insert_many([{"company": admin.company_id, "name": f"Bulk {n}", "phone": f"+55119{n:08d}",
                          "custom_fields": {}} for n in range(2500)]).execute()

    response, rows = export_rows(client, factories.auth_headers(app, admin))

    assert response.status_code == 200
    assert len(rows) == 2500
    assert [int(row["id"]) for row in rows] == sorted(int(row["id"]) for row in rows)


@pytest.mark.parametrize("role, allowed", [("admin", True), ("supervisor", True), ("agent", False)])
def test_only_admins_and_supervisors_export(client, factories, app, role, allowed):
    user = factories.user(role=role)
    factories.contact(user.company)

    response, _ = export_rows(client, factories.auth_headers(app, user))

    assert response.status_code == (200 if allowed else 403)


def test_programs_read_with_contacts_read_and_write_with_contacts_write(client, factories):
    company = factories.company()
    reader = {"X-API-Key": factories.api_key(company, ["contacts:read"])}
    writer = {"X-API-Key": factories.api_key(company, ["contacts:write"])}

    created = client.post("/api/contacts", headers=writer, json={"phone": "+5511987654321"})
    refused = client.post("/api/contacts", headers=reader, json={"phone": "+5511912345678"})

    assert created.status_code == 201 and refused.status_code == 403
    assert client.get("/api/contacts", headers=reader).get_json()["total"] == 1
    assert client.get("/api/contacts/export", headers=reader).status_code == 200
    assert client.delete(f"/api/contacts/{created.get_json()['id']}", headers=reader).status_code == 403
    assert client.delete(f"/api/contacts/{created.get_json()['id']}", headers=writer).status_code == 204


def test_programs_define_custom_fields_with_contacts_write(client, factories):
    company = factories.company()
    reader = {"X-API-Key": factories.api_key(company, ["contacts:read"])}
    writer = {"X-API-Key": factories.api_key(company, ["contacts:write"])}

    refused = client.post("/api/contact-fields", headers=reader, json={"key": "plan", "label": "Plan"})
    created = client.post("/api/contact-fields", headers=writer, json={"key": "plan", "label": "Plan"})
    renamed = client.patch(f"/api/contact-fields/{created.get_json()['id']}", headers=writer, json={"label": "Tier"})

    assert refused.status_code == 403 and created.status_code == 201 and renamed.status_code == 200
    assert client.get("/api/contact-fields", headers=reader).get_json()["items"][0]["label"] == "Tier"
    assert client.delete(f"/api/contact-fields/{created.get_json()['id']}", headers=writer).status_code == 204


class TestCustomFieldDefinitions:
    @pytest.mark.parametrize("role, allowed", [("admin", True), ("supervisor", False), ("agent", False)])
    def test_admins_define_fields_and_everyone_reads_them(self, client, factories, app, role, allowed):
        user = factories.user(role=role)
        headers = factories.auth_headers(app, user)

        response = client.post("/api/contact-fields", headers=headers, json={"key": "plan", "label": "Plan"})

        assert response.status_code == (201 if allowed else 403)
        assert client.get("/api/contact-fields", headers=headers).get_json()["total"] == (1 if allowed else 0)

    @pytest.mark.parametrize("payload, field", [
        ({"key": "Plan", "label": "Plan"}, "key"),
        ({"key": "phone", "label": "Phone"}, "key"),
        ({"key": "plan", "label": "Plan", "type": "money"}, "type"),
        ({"key": "plan", "label": ""}, "label"),
    ])
    def test_invalid_definitions_are_a_400(self, client, factories, app, payload, field):
        admin = factories.user()

        response = client.post("/api/contact-fields", headers=factories.auth_headers(app, admin), json=payload)

        assert response.status_code == 400 and field in response.get_json()["details"]

    def test_a_key_is_unique_per_company(self, client, factories, app):
        admin = factories.user()
        factories.contact_field(admin.company, "plan")

        response = client.post("/api/contact-fields", headers=factories.auth_headers(app, admin),
                               json={"key": "plan", "label": "Plan again"})

        assert response.status_code == 409

    def test_a_rename_keeps_key_and_type_and_a_delete_removes_the_values(self, client, factories, app):
        admin = factories.user()
        plan = factories.contact_field(admin.company, "plan")
        factories.contact_field(admin.company, "score", "number")
        kept = factories.contact(admin.company, custom_fields={"plan": "Gold", "score": 1})
        other_company = factories.contact(factories.company(), custom_fields={"plan": "Theirs"})
        headers = factories.auth_headers(app, admin)

        renamed = client.patch(f"/api/contact-fields/{plan.id}", headers=headers, json={"label": "Subscription"})
        changed_type = client.patch(f"/api/contact-fields/{plan.id}", headers=headers, json={"type": "number"})
        deleted = client.delete(f"/api/contact-fields/{plan.id}", headers=headers)

        assert renamed.status_code == 200 and renamed.get_json()["label"] == "Subscription"
        assert changed_type.status_code == 400
        assert deleted.status_code == 204
        assert Contact.get_by_id(kept.id).custom_fields == {"score": 1}
        assert Contact.get_by_id(other_company.id).custom_fields == {"plan": "Theirs"}
        assert not ContactField.select().where(ContactField.key == "plan", ContactField.company == admin.company).exists()

    def test_another_company_s_field_is_a_404(self, client, factories, app):
        foreign = factories.contact_field(factories.company(), "plan")
        headers = factories.auth_headers(app, factories.user())

        assert client.get(f"/api/contact-fields/{foreign.id}", headers=headers).status_code == 404
        assert client.delete(f"/api/contact-fields/{foreign.id}", headers=headers).status_code == 404


def test_admins_give_a_contact_to_an_agent_and_agents_cannot(client, factories, app):
    admin = factories.user(role="admin")
    agent = factories.user(admin.company, role="agent")
    contact = factories.contact(admin.company)
    url = f"/api/contacts/{contact.id}"

    given = client.patch(url, json={"ownerId": agent.id}, headers=factories.auth_headers(app, admin))
    taken = client.patch(url, json={"ownerId": None}, headers=factories.auth_headers(app, agent))
    stranger = client.patch(url, json={"ownerId": factories.user().id}, headers=factories.auth_headers(app, admin))
    renamed = client.patch(url, json={"name": "Ana", "ownerId": agent.id}, headers=factories.auth_headers(app, agent))
    theirs = client.get(f"/api/contacts?ownerId={agent.id}", headers=factories.auth_headers(app, admin)).get_json()

    assert given.get_json()["ownerId"] == agent.id and taken.status_code == 403
    assert stranger.status_code == 400 and "ownerId" in stranger.get_json()["details"]
    assert renamed.status_code == 200  # the same owner sent back is no change
    assert [item["id"] for item in theirs["items"]] == [contact.id]
