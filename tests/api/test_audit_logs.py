"""The audit log: admins read their company's administrative changes (who, what, when, before/after),
the super admin everyone's; nobody else reads it."""

from __future__ import annotations

import pytest
from flask import g

from api.audit import record
from api.security import api_key_principal
from db.audit import AuditLog


@pytest.mark.parametrize("role, allowed", [("super", True), ("admin", True), ("supervisor", False), ("agent", False)])
def test_only_admins_read_the_audit_log(client, factories, app, role, allowed):
    user = factories.user(role=role)

    response = client.get("/api/audit-logs", headers=factories.auth_headers(app, user))

    assert response.status_code == (200 if allowed else 403)


def test_a_change_is_recorded_with_who_what_when_and_before_after(client, factories, app):
    admin = factories.user(name="Admin Ann")
    agent = factories.user(company=admin.company, role="agent", name="Before")
    headers = factories.auth_headers(app, admin)

    client.patch(f"/api/users/{agent.id}", headers=headers, json={"name": "After", "password": "a-new-password"})
    client.delete(f"/api/users/{agent.id}", headers=headers)

    items = client.get("/api/audit-logs", headers=headers).get_json()["items"]
    deleted, updated = items  # newest first
    assert (updated["action"], updated["entity"], updated["entityId"]) == ("updated", "user", agent.id)
    assert (updated["userId"], updated["userName"], updated["companyId"]) == (admin.id, "Admin Ann", admin.company_id)
    assert updated["before"] == {"name": "Before"} and updated["after"] == {"name": "After"}  # no password hash
    assert updated["createdAt"].endswith("Z")
    assert deleted["action"] == "deleted" and deleted["before"]["name"] == "After" and deleted["after"] is None


def test_admins_see_only_their_company_and_filters_narrow_the_list(client, factories, app):
    admin = factories.user()
    neighbour = factories.user()
    client.post("/api/queues", headers=factories.auth_headers(app, admin), json={"name": "Sales"})
    client.post("/api/queues", headers=factories.auth_headers(app, neighbour), json={"name": "Theirs"})
    client.patch("/api/settings", headers=factories.auth_headers(app, admin), json={"signMessages": True})
    headers = factories.auth_headers(app, admin)

    everything = client.get("/api/audit-logs", headers=headers).get_json()
    queues = client.get("/api/audit-logs?entity=queue", headers=headers).get_json()["items"]
    updates = client.get("/api/audit-logs?action=updated", headers=headers).get_json()["items"]
    foreign = client.get(f"/api/audit-logs?companyId={neighbour.company_id}", headers=headers).get_json()

    assert everything["total"] == 2
    assert [item["after"]["name"] for item in queues] == ["Sales"]
    assert [item["entity"] for item in updates] == ["settings"]
    assert {item["companyId"] for item in foreign["items"]} == {admin.company_id}  # the filter is the super's


def test_the_super_admin_reads_every_company_s_log_and_filters_by_company(client, factories, app):
    root = factories.user(role="super")
    first, second = factories.user(), factories.user()
    for admin, name in ((first, "A"), (second, "B")):
        client.post("/api/queues", headers=factories.auth_headers(app, admin), json={"name": name})
    headers = factories.auth_headers(app, root)

    everything = client.get("/api/audit-logs", headers=headers).get_json()
    only_second = client.get(f"/api/audit-logs?companyId={second.company_id}", headers=headers).get_json()["items"]

    assert everything["total"] == 2
    assert [item["after"]["name"] for item in only_second] == ["B"]


def test_a_program_s_change_names_its_api_key(client, factories, app):
    """An API key has no user: the log names the key instead."""
    admin = factories.user()
    key = factories.api_key(admin.company, ["contacts:write"])
    with app.test_request_context():
        g.principal = api_key_principal(key)
        record("updated", "contact", 1, admin.company_id, {"name": "a"}, {"name": "b"})

    log = AuditLog.get()
    assert log.user_id is None and log.user_name.startswith("API key 'Key ")
