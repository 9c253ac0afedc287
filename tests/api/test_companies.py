"""The super admin manages companies and plans; nobody else can."""

from __future__ import annotations

from db.companies import Company
from db.jobs import Job


def test_super_admin_creates_a_company_on_a_plan_and_changes_it(client, factories, app):
    root = factories.user(role="super")
    headers = factories.auth_headers(app, root)
    plan = client.post("/api/plans", headers=headers, json={"name": "Pro", "maxUsers": 50}).get_json()

    created = client.post("/api/companies", headers=headers, json={"name": "Globex", "planId": plan["id"]})
    changed = client.patch(f"/api/companies/{created.get_json()['id']}", headers=headers, json={"status": "suspended"})

    assert created.status_code == 201 and created.get_json()["planId"] == plan["id"]
    assert changed.get_json()["status"] == "suspended"
    assert client.get("/api/companies", headers=headers).get_json()["total"] == 2


def test_a_company_admin_cannot_see_or_manage_companies_or_plans(client, factories, app):
    admin = factories.user(role="admin")
    other = factories.company()
    headers = factories.auth_headers(app, admin)

    assert client.get("/api/companies", headers=headers).status_code == 403
    assert client.patch(f"/api/companies/{other.id}", headers=headers, json={"name": "mine"}).status_code == 403
    assert client.post("/api/plans", headers=headers, json={"name": "Free for me"}).status_code == 403
    assert Company.get_by_id(other.id).name == other.name


def test_a_duplicate_plan_name_is_409_and_an_unknown_plan_is_404(client, factories, app):
    headers = factories.auth_headers(app, factories.user(role="super"))
    client.post("/api/plans", headers=headers, json={"name": "Pro"})

    assert client.post("/api/plans", headers=headers, json={"name": "Pro"}).status_code == 409
    assert client.post("/api/companies", headers=headers, json={"name": "X", "planId": 999}).status_code == 404


def test_a_company_moved_to_another_timezone_has_its_business_hours_slas_re_timed(client, factories, app, broker):
    headers = factories.auth_headers(app, factories.user(role="super"))
    company = factories.company(timezone="America/Sao_Paulo")

    client.patch(f"/api/companies/{company.id}", headers=headers, json={"name": "Globex"})
    after_rename = Job.select().where(Job.kind == "retime_sla_tickets").count()
    moved = client.patch(f"/api/companies/{company.id}", headers=headers, json={"timezone": "Europe/Lisbon"})

    assert (moved.status_code, after_rename) == (200, 0)
    assert [job.message["args"] for job in Job.select().where(Job.kind == "retime_sla_tickets")] == [
        ["company", company.id]]
