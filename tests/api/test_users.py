"""Users: company scoping, what each role may do, sub-users with lead permissions, online status and the
plan's user limit (under concurrency too)."""

from __future__ import annotations

import json
import threading

import pytest

from db.audit import AuditLog
from db.users import User
from tests.waiting import wait_for
from wharf.realtime import CHANNEL


def test_admin_creates_a_user_in_their_company(client, factories, app):
    admin = factories.user(role="admin")

    response = client.post(
        "/api/users",
        headers=factories.auth_headers(app, admin),
        json={"name": "Agent Smith", "email": "smith@example.com", "password": "long-enough", "role": "agent"},
    )

    assert response.status_code == 201
    created = User.get(User.email == "smith@example.com")
    assert created.company_id == admin.company_id and created.role == "agent"


def test_the_plan_user_limit_is_a_403_and_creates_nothing(client, factories, app):
    company = factories.company(plan=factories.plan(max_users=2))
    admin = factories.user(company=company)
    factories.user(company=company, role="agent")

    response = client.post(
        "/api/users",
        headers=factories.auth_headers(app, admin),
        json={"name": "One Too Many", "email": "many@example.com", "password": "long-enough"},
    )

    assert response.status_code == 403
    assert response.get_json()["error"] == "plan_limit_reached"
    assert response.get_json()["details"] == {"limit": 2, "resource": "users"}
    assert User.select().where(User.company == company).count() == 2


def test_another_company_s_user_is_404_for_read_change_and_delete(client, factories, app):
    admin = factories.user()
    stranger = factories.user()
    headers = factories.auth_headers(app, admin)

    assert client.get(f"/api/users/{stranger.id}", headers=headers).status_code == 404
    assert client.patch(f"/api/users/{stranger.id}", headers=headers, json={"name": "x"}).status_code == 404
    assert client.delete(f"/api/users/{stranger.id}", headers=headers).status_code == 404
    assert User.get_by_id(stranger.id).name == stranger.name


def test_lists_show_only_the_caller_s_company(client, factories, app):
    admin = factories.user()
    colleague = factories.user(company=admin.company, role="agent")
    factories.user()

    page = client.get("/api/users", headers=factories.auth_headers(app, admin)).get_json()

    assert {u["id"] for u in page["items"]} == {admin.id, colleague.id}
    assert page["total"] == 2 and page["page"] == 1 and page["pageSize"] == 50


def test_an_agent_cannot_manage_users(client, factories, app):
    agent = factories.user(role="agent")
    headers = factories.auth_headers(app, agent)

    response = client.post(
        "/api/users", headers=headers, json={"name": "X", "email": "x@example.com", "password": "long-enough"}
    )

    assert response.status_code == 403
    assert response.get_json()["error"] == "insufficient_role"
    assert client.get("/api/users", headers=headers).status_code == 403


def test_a_disabled_user_s_tokens_stop_working(client, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent")
    agent_headers = factories.auth_headers(app, agent)

    client.patch(f"/api/users/{agent.id}", headers=factories.auth_headers(app, admin), json={"active": False})

    assert client.get(f"/api/users/{agent.id}", headers=agent_headers).status_code == 401


def new_user(**fields) -> dict:
    return {"name": "New Person", "email": "new@example.com", "password": "long-enough", **fields}


@pytest.mark.parametrize("role, manages, lists", [
    ("super", True, True), ("admin", True, True), ("supervisor", False, True), ("agent", False, False),
])
def test_what_each_role_may_do_with_users(client, factories, app, role, manages, lists):
    caller = factories.user(role=role)
    colleague = factories.user(company=caller.company, role="agent")
    headers = factories.auth_headers(app, caller)

    create = client.post("/api/users", headers=headers, json=new_user())
    listing = client.get("/api/users", headers=headers)
    show_colleague = client.get(f"/api/users/{colleague.id}", headers=headers)
    show_self = client.get(f"/api/users/{caller.id}", headers=headers)
    change = client.patch(f"/api/users/{colleague.id}", headers=headers, json={"maxOpenTickets": 3})
    sub_user = client.post("/api/users/sub-users", headers=headers, json=new_user(email="sub@example.com"))
    delete = client.delete(f"/api/users/{colleague.id}", headers=headers)

    assert create.status_code == (201 if manages else 403)
    assert listing.status_code == (200 if lists else 403)
    assert show_colleague.status_code == (200 if lists else 403)
    assert show_self.status_code == 200
    assert change.status_code == (200 if manages else 403)
    assert sub_user.status_code == (201 if manages else 403)
    assert delete.status_code == (204 if manages else 403)
    assert User.select().where(User.company == caller.company).count() == (3 if manages else 2)


def test_an_admin_sets_name_email_role_queues_and_max_open_tickets_and_the_change_is_audited(client, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent", name="Old")
    sales = factories.queue(admin.company, name="Sales")

    response = client.patch(f"/api/users/{agent.id}", headers=factories.auth_headers(app, admin), json={
        "name": "New", "email": "NEW@example.com", "role": "supervisor", "queueIds": [sales.id], "maxOpenTickets": 5,
    })

    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["email"], body["role"], body["queueIds"], body["maxOpenTickets"]) == (
        "New", "new@example.com", "supervisor", [sales.id], 5)
    log = AuditLog.get(AuditLog.entity == "user", AuditLog.action == "updated")
    assert log.before == {"name": "Old", "email": agent.email, "role": "agent", "queue_ids": [],
                          "max_open_tickets": None}
    assert log.after["queue_ids"] == [sales.id] and log.user_id == admin.id


def test_a_null_for_a_field_that_always_has_a_value_is_a_400(client, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent")

    response = client.patch(f"/api/users/{agent.id}", headers=factories.auth_headers(app, admin),
                            json={"name": None, "role": None, "maxOpenTickets": None})

    assert response.status_code == 400
    assert response.get_json()["details"] == {"name": "may not be null", "role": "may not be null"}


def test_an_admin_cannot_demote_or_disable_themselves_nor_touch_a_super_admin(client, factories, app):
    admin = factories.user()
    root = factories.user(company=admin.company, role="super")
    headers = factories.auth_headers(app, admin)

    demote = client.patch(f"/api/users/{admin.id}", headers=headers, json={"role": "agent"})
    disable = client.patch(f"/api/users/{admin.id}", headers=headers, json={"active": False})
    rename_self = client.patch(f"/api/users/{admin.id}", headers=headers, json={"name": "Still admin"})
    touch_super = client.patch(f"/api/users/{root.id}", headers=headers, json={"name": "x"})

    assert demote.status_code == disable.status_code == touch_super.status_code == 403
    assert rename_self.status_code == 200
    assert User.get_by_id(admin.id).role == "admin" and User.get_by_id(admin.id).active


def test_a_duplicate_e_mail_is_a_409(client, factories, app):
    admin = factories.user()
    factories.user(email="taken@example.com")

    response = client.post("/api/users", headers=factories.auth_headers(app, admin),
                           json=new_user(email="TAKEN@example.com"))

    assert response.status_code == 409


def test_a_sub_user_inherits_the_company_and_gets_view_only_leads_by_default(client, factories, app):
    manager = factories.user(role="admin")
    headers = factories.auth_headers(app, manager)

    response = client.post("/api/users/sub-users", headers=headers, json=new_user(email="rep@example.com"))

    assert response.status_code == 201
    body = response.get_json()
    assert body["companyId"] == manager.company_id and body["parentId"] == manager.id and body["role"] == "agent"
    assert body["permissions"] == {"leads": {"view": True, "edit": False, "add": False}}
    listed = client.get(f"/api/users?parentId={manager.id}", headers=headers).get_json()["items"]
    assert [u["id"] for u in listed] == [body["id"]]
    changed = client.patch(f"/api/users/{body['id']}", headers=headers,
                           json={"permissions": {"leads": {"view": True, "edit": True, "add": True}}})
    assert changed.get_json()["permissions"]["leads"] == {"view": True, "edit": True, "add": True}
    admin_role = client.post("/api/users/sub-users", headers=headers, json=new_user(email="x@example.com", role="admin"))
    assert admin_role.status_code == 400


def test_a_user_sets_their_own_online_status_and_the_company_hears_it(client, factories, app, redis_client):
    agent = factories.user(role="agent")
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    received: list[dict] = []

    def heard_away() -> bool:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            received.append(json.loads(message["data"]))
        return any(item.get("event") == "user:away" for item in received)

    try:
        response = client.patch("/api/users/me/status", headers=factories.auth_headers(app, agent),
                                json={"status": "away"})
        assert wait_for(heard_away)
    finally:
        pubsub.close()

    assert response.status_code == 200 and response.get_json()["onlineStatus"] == "away"
    stored = User.get_by_id(agent.id)
    assert stored.online_status == "away" and stored.last_seen_at is not None
    event = next(item for item in received if item.get("event") == "user:away")
    assert event["data"] == [{"userId": agent.id, "name": agent.name, "status": "away",
                               "lastSeenAt": response.get_json()["lastSeenAt"]}]
    assert event["room"] == [f"company:{agent.company_id}"]
    bad = client.patch("/api/users/me/status", headers=factories.auth_headers(app, agent), json={"status": "busy"})
    assert bad.status_code == 400


def test_concurrent_creations_never_pass_the_plan_limit(client, factories, app):
    company = factories.company(plan=factories.plan(max_users=3))
    admin = factories.user(company=company)
    headers = factories.auth_headers(app, admin)
    answers: list[int] = []

    def create(n: int) -> None:
        answers.append(app.test_client().post("/api/users", headers=headers,
                                              json=new_user(email=f"racer{n}@example.com")).status_code)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [201, 201, 403, 403, 403, 403]
    assert User.select().where(User.company == company).count() == 3


def test_re_enabling_a_user_counts_against_the_plan(client, factories, app):
    company = factories.company(plan=factories.plan(max_users=2))
    admin = factories.user(company=company)
    factories.user(company=company, role="agent")
    disabled = factories.user(company=company, role="agent", active=False)

    response = client.patch(f"/api/users/{disabled.id}", headers=factories.auth_headers(app, admin),
                            json={"active": True})

    assert response.status_code == 403 and response.get_json()["error"] == "plan_limit_reached"
    assert not User.get_by_id(disabled.id).active
