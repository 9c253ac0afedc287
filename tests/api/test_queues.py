"""Queues: admins manage them, every role reads them; hours, menus and members are validated."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from db.audit import AuditLog
from db.base import utcnow
from db.queues import Queue, UserQueue

HOURS = {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], "sat": [["09:00", "13:00"]]}


@pytest.mark.parametrize("role, allowed", [("super", True), ("admin", True), ("supervisor", False), ("agent", False)])
def test_only_admins_create_queues_but_every_role_reads_them(client, factories, app, role, allowed):
    user = factories.user(role=role)
    headers = factories.auth_headers(app, user)

    response = client.post("/api/queues", headers=headers, json={"name": "Sales"})

    assert response.status_code == (201 if allowed else 403)
    assert Queue.select().where(Queue.company == user.company).count() == (1 if allowed else 0)
    assert client.get("/api/queues", headers=headers).status_code == 200


def test_a_queue_is_created_with_members_hours_and_a_menu(client, factories, app):
    admin = factories.user()
    agent = factories.user(company=admin.company, role="agent")
    support = factories.queue(admin.company, name="Support")

    response = client.post("/api/queues", headers=factories.auth_headers(app, admin), json={
        "name": "Sales", "color": "#00ff00", "greetingMessage": "Welcome!", "priority": 2,
        "userIds": [agent.id, agent.id], "businessHours": HOURS, "outOfHoursMessage": "We are closed",
        "menuOptions": [{"option": "1", "label": "Support", "queueId": support.id}],
    })

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["userIds"] == [agent.id]
    assert body["businessHours"] == HOURS and body["greetingMessage"] == "Welcome!"
    assert body["menuOptions"] == [{"option": "1", "label": "Support", "queueId": support.id}]
    assert isinstance(body["openNow"], bool)
    queue = Queue.get_by_id(body["id"])
    assert queue.greeting == "Welcome!" and queue.out_of_hours_message == "We are closed"
    assert AuditLog.get(AuditLog.entity == "queue").after["user_ids"] == [agent.id]


@pytest.mark.parametrize("payload, field", [
    ({"businessHours": {"mon": [["18:00", "08:00"]]}}, "businessHours"),
    ({"businessHours": {"mon": [["8h", "18:00"]]}}, "businessHours"),
    ({"businessHours": {"funday": [["08:00", "18:00"]]}}, "businessHours"),
    ({"specialDays": {"25/12": []}}, "specialDays"),
    ({"specialDays": {"2026-12-24": [["12:00", "08:00"]]}}, "specialDays"),
    ({"color": "green"}, "color"),
    ({"menuOptions": [{"option": "1", "label": "a", "queueId": 999}]}, "menuOptions"),
    ({"userIds": [999]}, "userIds"),
])
def test_invalid_queue_fields_are_a_400_naming_the_field(client, factories, app, payload, field):
    admin = factories.user()

    response = client.post("/api/queues", headers=factories.auth_headers(app, admin), json={"name": "Q", **payload})

    assert response.status_code == 400
    assert any(key.startswith(field) for key in response.get_json()["details"])
    assert Queue.select().count() == 0


def test_another_company_s_users_and_queues_cannot_be_linked(client, factories, app):
    admin = factories.user()
    stranger = factories.user()
    foreign_queue = factories.queue(stranger.company)
    headers = factories.auth_headers(app, admin)

    members = client.post("/api/queues", headers=headers, json={"name": "Q", "userIds": [stranger.id]})
    menu = client.post("/api/queues", headers=headers, json={
        "name": "Q", "menuOptions": [{"option": "1", "label": "x", "queueId": foreign_queue.id}]})

    assert members.status_code == menu.status_code == 400
    assert client.get(f"/api/queues/{foreign_queue.id}", headers=headers).status_code == 404
    assert client.patch(f"/api/queues/{foreign_queue.id}", headers=headers, json={"name": "x"}).status_code == 404


def test_a_duplicate_name_is_a_409(client, factories, app):
    admin = factories.user()
    factories.queue(admin.company, name="Sales")

    response = client.post("/api/queues", headers=factories.auth_headers(app, admin), json={"name": "Sales"})

    assert response.status_code == 409


def test_patch_replaces_members_and_keeps_what_was_not_sent(client, factories, app):
    admin = factories.user()
    first = factories.user(company=admin.company, role="agent")
    second = factories.user(company=admin.company, role="agent")
    queue = factories.queue(admin.company, name="Sales", greeting="Hi")
    UserQueue.create(user=first, queue=queue)

    response = client.patch(f"/api/queues/{queue.id}", headers=factories.auth_headers(app, admin),
                            json={"userIds": [second.id], "priority": 5})

    assert response.status_code == 200
    assert response.get_json()["userIds"] == [second.id]
    assert [link.user_id for link in queue.user_links] == [second.id]
    assert Queue.get_by_id(queue.id).greeting == "Hi" and Queue.get_by_id(queue.id).priority == 5
    log = AuditLog.get(AuditLog.action == "updated")
    assert log.before == {"priority": 0, "user_ids": [first.id]} and log.after == {"priority": 5, "user_ids": [second.id]}


def test_open_now_uses_the_company_timezone(client, factories, app):
    company = factories.company(timezone="Pacific/Kiritimati")  # UTC+14: never the same weekday as UTC at noon
    admin = factories.user(company=company)
    every_day = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    open_queue = factories.queue(company, business_hours=every_day)
    closed_queue = factories.queue(company, business_hours={"mon": []})

    items = client.get("/api/queues", headers=factories.auth_headers(app, admin)).get_json()["items"]

    assert {q["id"]: q["openNow"] for q in items} == {open_queue.id: True, closed_queue.id: False}


def test_a_special_day_today_closes_a_queue_open_every_day_and_patch_replaces_them(client, factories, app):
    company = factories.company(timezone="America/Sao_Paulo")
    headers = factories.auth_headers(app, factories.user(company=company))
    today = utcnow().astimezone(ZoneInfo("America/Sao_Paulo")).date().isoformat()
    created = client.post("/api/queues", headers=headers, json={"name": "Vendas", "specialDays": {
        "2030-12-25": [], today: [], "2030-12-24": [["12:00", "14:00"], ["08:00", "11:00"]]}}).get_json()

    changed = client.patch(f"/api/queues/{created['id']}", headers=headers, json={"specialDays": {}}).get_json()

    assert created["specialDays"] == {today: [], "2030-12-24": [["08:00", "11:00"], ["12:00", "14:00"]],
                                      "2030-12-25": []}
    assert (created["openNow"], changed["openNow"], changed["specialDays"]) == (False, True, {})


def test_deleting_a_queue_removes_menu_options_pointing_to_it(client, factories, app):
    admin = factories.user()
    target = factories.queue(admin.company)
    menu = factories.queue(admin.company, menu_options=[{"option": "1", "label": "x", "queueId": target.id}])

    response = client.delete(f"/api/queues/{target.id}", headers=factories.auth_headers(app, admin))

    assert response.status_code == 204
    assert Queue.get_by_id(menu.id).menu_options == []
    assert not Queue.select().where(Queue.id == target.id).exists()
