"""Leads: CRUD with validated fields, filters, search, sort, pages, sub-users' lead permissions, the CSV export
and the analytics."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from db.base import utcnow
from db.leads import Lead
from db.users import User
from db.webhooks import WebhookDelivery


def test_a_lead_is_created_with_every_field_and_its_phone_in_e164(client, factories, app):
    user = factories.user(role="agent", company=factories.company(default_country="BR"))
    contact = factories.contact(user.company, phone="+5511987654321")

    response = client.post("/api/leads", headers=factories.auth_headers(app, user), json={
        "name": "Maria Souza", "phone": "(11) 98765-4321", "email": "Maria@Example.com", "companyName": "Souza Ltda",
        "status": "contacted", "source": "website", "category": "hot", "value": "1500.50", "notes": "wants a demo",
        "nextFollowUpAt": "2030-01-02T12:00:00-03:00",
    })

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["phone"] == "+5511987654321" and body["email"] == "maria@example.com"
    assert body["value"] == 1500.5 and body["nextFollowUpAt"] == "2030-01-02T15:00:00.000Z"
    assert body["ownerId"] == user.id and body["createdById"] == user.id
    assert body["contactId"] == contact.id  # linked to the contact with the same phone
    lead = Lead.get_by_id(body["id"])
    assert lead.company_id == user.company_id and lead.value == Decimal("1500.50")


def test_a_lead_needs_only_a_name_and_gets_the_defaults(client, factories, app):
    user = factories.user()

    body = client.post("/api/leads", headers=factories.auth_headers(app, user), json={"name": "Ana"}).get_json()

    assert (body["status"], body["source"], body["category"], body["value"]) == ("new", "manual", "warm", 0)
    assert body["phone"] is None and body["contactId"] is None


@pytest.mark.parametrize("payload, field", [
    ({"name": ""}, "name"),
    ({"name": "x", "phone": "12"}, "phone"),
    ({"name": "x", "email": "not-an-email"}, "email"),
    ({"name": "x", "status": "maybe"}, "status"),
    ({"name": "x", "source": "tv"}, "source"),
    ({"name": "x", "category": "lukewarm"}, "category"),
    ({"name": "x", "value": -1}, "value"),
    ({"name": "x", "value": "1.234"}, "value"),
    ({"name": "x", "nextFollowUpAt": "tomorrow"}, "nextFollowUpAt"),
    ({"name": "x", "ownerId": 999}, "ownerId"),
    ({"name": "x", "contactId": 999}, "contactId"),
    ({"name": "x", "surprise": 1}, "surprise"),
])
def test_invalid_fields_are_a_400_naming_the_field_and_create_nothing(client, factories, app, payload, field):
    user = factories.user()

    response = client.post("/api/leads", headers=factories.auth_headers(app, user), json=payload)

    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert Lead.select().count() == 0


def test_the_same_phone_twice_in_a_company_is_a_409_but_another_company_may_have_it(client, factories, app):
    user = factories.user()
    first = factories.lead(user.company, phone="+5511987654321")
    factories.lead(factories.company(), phone="+5511987654322")
    headers = factories.auth_headers(app, user)

    duplicate = client.post("/api/leads", headers=headers, json={"name": "x", "phone": "+55 11 98765-4321"})
    elsewhere = client.post("/api/leads", headers=headers, json={"name": "y", "phone": "+5511987654322"})

    assert duplicate.status_code == 409
    assert duplicate.get_json()["details"] == {"phone": f"already lead {first.id}"}
    assert elsewhere.status_code == 201


def test_patch_changes_what_is_sent_clears_nullable_fields_and_refuses_null_names(client, factories, app):
    user = factories.user()
    owner = factories.user(company=user.company, role="agent")
    lead = factories.lead(user.company, phone="+5511987654321", email="a@example.com", notes="keep")
    headers = factories.auth_headers(app, user)

    response = client.patch(f"/api/leads/{lead.id}", headers=headers,
                            json={"status": "won", "ownerId": owner.id, "phone": None, "value": 10})
    refused = client.patch(f"/api/leads/{lead.id}", headers=headers, json={"name": None, "status": None})

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "won" and body["wonAt"] is not None and body["ownerId"] == owner.id
    assert body["phone"] is None and body["email"] == "a@example.com" and body["notes"] == "keep"
    assert refused.status_code == 400 and set(refused.get_json()["details"]) == {"name", "status"}
    back = client.patch(f"/api/leads/{lead.id}", headers=headers, json={"status": "proposal"}).get_json()
    assert back["wonAt"] is None


def test_another_company_s_lead_is_404_everywhere(client, factories, app):
    user = factories.user()
    foreign = factories.lead(factories.company())
    headers = factories.auth_headers(app, user)

    assert client.get(f"/api/leads/{foreign.id}", headers=headers).status_code == 404
    assert client.patch(f"/api/leads/{foreign.id}", headers=headers, json={"name": "x"}).status_code == 404
    assert client.delete(f"/api/leads/{foreign.id}", headers=headers).status_code == 404
    assert client.get("/api/leads", headers=headers).get_json()["total"] == 0
    assert Lead.get_by_id(foreign.id).name == foreign.name


def test_filters_search_sort_and_pages(client, factories, app):
    user = factories.user()
    company = user.company
    other_owner = factories.user(company=company, role="agent")
    now = utcnow()
    hot = factories.lead(company, name="Alpha Corp", status="new", category="hot", value=300, owner=user,
                         next_follow_up_at=now - dt.timedelta(hours=1))
    won = factories.lead(company, name="Beta", status="won", source="referral", value=100, owner=other_owner,
                         email="buyer@beta.example", next_follow_up_at=now + dt.timedelta(days=3))
    lost = factories.lead(company, name="Gamma", status="lost", company_name="Alpha Holdings", value=200)
    headers = factories.auth_headers(app, user)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/leads?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("status=new,won&sort=name") == [hot.id, won.id]
    assert ids("status=won&status=lost&sort=name") == [won.id, lost.id]
    assert ids("source=referral") == [won.id]
    assert ids("category=hot") == [hot.id]
    assert ids(f"ownerId={other_owner.id}") == [won.id]
    assert ids("followUpDue=true") == [hot.id]
    assert set(ids("followUpDue=false")) == {won.id, lost.id}
    assert ids("search=ALPHA&sort=name") == [hot.id, lost.id]  # name or company name, any case
    assert ids("search=beta.example") == [won.id]
    assert ids("sort=-value") == [hot.id, lost.id, won.id]
    assert ids("sort=nextFollowUpAt") == [hot.id, won.id, lost.id]  # no follow-up last
    page = client.get("/api/leads?sort=value&page=2&pageSize=2", headers=headers).get_json()
    assert [item["id"] for item in page["items"]] == [hot.id] and page["total"] == 3
    assert client.get("/api/leads?status=maybe", headers=headers).status_code == 400
    assert client.get("/api/leads?sort=password", headers=headers).status_code == 400


@pytest.mark.parametrize("role", ["super", "admin", "supervisor", "agent"])
def test_every_role_works_on_the_company_s_leads(client, factories, app, role):
    user = factories.user(role=role)
    lead = factories.lead(user.company)
    headers = factories.auth_headers(app, user)

    assert client.get("/api/leads", headers=headers).get_json()["total"] == 1
    assert client.post("/api/leads", headers=headers, json={"name": "New"}).status_code == 201
    assert client.patch(f"/api/leads/{lead.id}", headers=headers, json={"status": "contacted"}).status_code == 200
    assert client.delete(f"/api/leads/{lead.id}", headers=headers).status_code == 204


@pytest.mark.parametrize("permissions, can_view, can_add, can_edit", [
    ({"view": True, "add": False, "edit": False}, True, False, False),
    ({"view": True, "add": True, "edit": False}, True, True, False),
    ({"view": True, "add": False, "edit": True}, True, False, True),
    ({"view": False, "add": False, "edit": False}, False, False, False),
])
def test_a_sub_user_s_lead_permissions_are_enforced(client, factories, app, permissions, can_view, can_add, can_edit):
    admin = factories.user()
    headers = factories.auth_headers(app, admin)
    created = client.post("/api/users/sub-users", headers=headers, json={
        "name": "Seller", "email": "seller@example.com", "password": "long-enough", "permissions": {"leads": permissions},
    })
    assert created.status_code == 201, created.get_json()
    seller = User.get_by_id(created.get_json()["id"])
    lead = factories.lead(admin.company)
    seller_headers = factories.auth_headers(app, seller)

    reads = [client.get("/api/leads", headers=seller_headers), client.get(f"/api/leads/{lead.id}", headers=seller_headers),
             client.get("/api/leads/export", headers=seller_headers),
             client.get("/api/analytics/leads", headers=seller_headers)]
    add = client.post("/api/leads", headers=seller_headers, json={"name": "Mine"})
    edit = client.patch(f"/api/leads/{lead.id}", headers=seller_headers, json={"status": "won"})
    delete = client.delete(f"/api/leads/{lead.id}", headers=seller_headers)

    assert [r.status_code for r in reads] == [200 if can_view else 403] * 4
    assert add.status_code == (201 if can_add else 403)
    assert edit.status_code == (200 if can_edit else 403)
    assert delete.status_code == (204 if can_edit else 403)
    if not can_add:
        assert add.get_json()["details"] == {"permission": "leads.add"}
    assert Lead.select().where(Lead.name == "Mine").count() == (1 if can_add else 0)


def test_a_program_reads_with_leads_read_and_writes_with_leads_write(client, factories, app):
    company = factories.company()
    reader = {"X-API-Key": factories.api_key(company, ["leads:read"])}
    writer = {"X-API-Key": factories.api_key(company, ["leads:write"])}

    created = client.post("/api/leads", headers=writer, json={"name": "From the site", "source": "website"})
    refused = client.post("/api/leads", headers=reader, json={"name": "No"})

    assert created.status_code == 201 and created.get_json()["ownerId"] is None
    assert refused.status_code == 403
    assert client.get("/api/leads", headers=reader).get_json()["total"] == 1


def test_changes_are_announced_to_webhooks(client, factories, app, broker):
    user = factories.user()
    factories.webhook(user.company, events=["lead:*"])
    headers = factories.auth_headers(app, user)

    lead_id = client.post("/api/leads", headers=headers, json={"name": "Hooked"}).get_json()["id"]
    client.patch(f"/api/leads/{lead_id}", headers=headers, json={"category": "hot"})
    client.delete(f"/api/leads/{lead_id}", headers=headers)

    deliveries = WebhookDelivery.select().order_by(WebhookDelivery.id)
    assert [d.event for d in deliveries] == ["lead:new", "lead:update", "lead:delete"]
    assert deliveries[1].payload["data"]["category"] == "hot"


def test_the_export_streams_the_filtered_leads_as_csv(client, factories, app):
    user = factories.user()
    factories.lead(user.company, name="Won one", status="won", value=Decimal("99.90"), phone="+5511987654321")
    factories.lead(user.company, name="=HYPERLINK(\"http://evil\")", status="won")
    factories.lead(user.company, name="Lost one", status="lost")
    factories.lead(factories.company(), name="Someone else's", status="won")
    for n in range(1200):  # more than one batch
        factories.lead(user.company, name=f"Bulk {n}", status="new")

    def export(query: str = "") -> tuple:
        response = client.get(f"/api/leads/export{query}", headers=factories.auth_headers(app, user))
        return response, list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))

    response, rows = export("?status=won")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="leads-')
    assert [row["name"] for row in rows] == ["Won one", "'=HYPERLINK(\"http://evil\")"]
    assert rows[0]["phone"] == "+5511987654321" and rows[0]["value"] == "99.9" and rows[0]["status"] == "won"
    assert len(export()[1]) == 1203
