"""Scheduled messages over HTTP: to a contact or a phone, once or by cron, edited and cancelled while pending."""

from __future__ import annotations

import datetime as dt

import pytest

from db.base import utcnow
from db.schedules import Schedule, ScheduleRun


@pytest.fixture
def agent(factories):
    return factories.user(role="agent", company=factories.company(default_country="BR"))


@pytest.fixture
def headers(app, factories, agent):
    return factories.auth_headers(app, agent)


@pytest.fixture
def connection(factories, agent):
    return factories.connection(agent.company)


def test_a_one_off_to_a_phone_is_stored_pending_in_utc(client, headers, connection):
    answer = client.post("/api/schedules", headers=headers, json={
        "connectionId": connection.id, "to": "(11) 98765-4321", "body": "Reminder", "sendAt": "2030-01-02T10:00:00-03:00"})

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["to"], body["sendAt"], body["status"]) == ("+5511987654321", "2030-01-02T13:00:00.000Z", "pending")


def test_a_recurring_schedule_gets_its_first_time_from_the_cron(client, headers, factories, agent, connection):
    contact = factories.contact(agent.company)

    body = client.post("/api/schedules", headers=headers, json={
        "connectionId": connection.id, "contactId": contact.id, "body": "Weekly", "cron": "30 8 * * 1",
        "timezone": "America/Sao_Paulo"}).get_json()

    send_at = dt.datetime.fromisoformat(body["sendAt"].rstrip("Z"))
    assert send_at > utcnow() and send_at.weekday() == 0 and (send_at.hour, send_at.minute) == (11, 30)


@pytest.mark.parametrize("fields, field", [
    ({"to": "+5511987654321", "body": "x"}, "sendAt"),
    ({"sendAt": "2030-01-01T00:00:00Z", "body": "x"}, "to"),
    ({"to": "+5511987654321", "sendAt": "2030-01-01T00:00:00Z"}, "body"),
    ({"to": "+5511987654321", "body": "x", "cron": "nope"}, "cron"),
    ({"to": "abc", "body": "x", "sendAt": "2030-01-01T00:00:00Z"}, "to"),
    ({"to": "+5511987654321", "body": "x", "sendAt": "2020-01-01T00:00:00Z"}, "sendAt"),  # a wrong year
])
def test_a_schedule_needs_whom_what_and_when(client, headers, connection, fields, field):
    answer = client.post("/api/schedules", headers=headers, json={"connectionId": connection.id, **fields})

    assert answer.status_code == 400
    assert field in answer.get_json()["details"], answer.get_json()
    assert Schedule.select().count() == 0


def test_a_pending_schedule_is_edited_and_cancelled_then_no_longer(client, headers, factories, agent, connection):
    schedule = Schedule.create(company=agent.company, user=agent, connection=connection, to="+5511987654321", body="a",
                               send_at=utcnow() + dt.timedelta(hours=1))
    url = f"/api/schedules/{schedule.id}"

    edited = client.patch(url, headers=headers, json={"body": "b"})
    cancelled = client.post(f"{url}/cancel", headers=headers)

    assert edited.get_json()["body"] == "b"
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert client.patch(url, headers=headers, json={"body": "c"}).status_code == 409
    assert client.get("/api/schedules?status=cancelled", headers=headers).get_json()["total"] == 1


def test_runs_are_its_history_and_other_companies_see_nothing(client, headers, app, factories, agent, connection):
    schedule = Schedule.create(company=agent.company, user=agent, connection=connection, to="+5511987654321", body="a",
                               send_at=utcnow(), cron="0 * * * *")
    ScheduleRun.create(schedule=schedule, due_at=utcnow(), status="failed", error="the contact opted out")
    stranger = factories.auth_headers(app, factories.user())

    runs = client.get(f"/api/schedules/{schedule.id}/runs", headers=headers).get_json()

    assert runs["total"] == 1 and runs["items"][0]["error"] == "the contact opted out"
    assert client.get(f"/api/schedules/{schedule.id}", headers=stranger).status_code == 404
    assert client.delete(f"/api/schedules/{schedule.id}", headers=stranger).status_code == 404
    assert client.delete(f"/api/schedules/{schedule.id}", headers=headers).status_code == 204


def test_an_agent_sees_and_changes_only_their_own_schedules_and_a_supervisor_all(
        client, app, headers, factories, agent, connection):
    colleague = factories.user(role="agent", company=agent.company)
    theirs = Schedule.create(company=agent.company, user=colleague, connection=connection, to="+5511987654321",
                             body="theirs", send_at=utcnow() + dt.timedelta(hours=1))
    mine = client.post("/api/schedules", headers=headers, json={
        "connectionId": connection.id, "to": "+5511987654322", "body": "mine", "sendAt": "2030-01-01T00:00:00Z"})
    supervisor = factories.auth_headers(app, factories.user(role="supervisor", company=agent.company))

    listed = client.get("/api/schedules", headers=headers).get_json()

    assert [item["body"] for item in listed["items"]] == ["mine"] and mine.status_code == 201
    for method, suffix in (("get", ""), ("patch", ""), ("post", "/cancel"), ("delete", ""), ("get", "/runs")):
        answer = client.open(f"/api/schedules/{theirs.id}{suffix}", method=method.upper(), headers=headers,
                             json={"body": "mine now"} if method == "patch" else None)
        assert answer.status_code == 404, (method, suffix)
    assert Schedule.get_by_id(theirs.id).body == "theirs"
    assert client.get("/api/schedules", headers=supervisor).get_json()["total"] == 2


def test_an_agent_schedules_nothing_into_another_agent_s_conversation(client, headers, factories, agent, connection):
    colleague = factories.user(role="agent", company=agent.company)
    contact = factories.contact(agent.company, phone="+5511987654321")
    theirs = factories.ticket(agent.company, contact=contact, connection=connection, user=colleague, status="open")

    by_id = client.post("/api/schedules", headers=headers, json={
        "connectionId": connection.id, "contactId": contact.id, "body": "x", "sendAt": "2030-01-01T00:00:00Z"})
    by_phone = client.post("/api/schedules", headers=headers, json={
        "connectionId": connection.id, "to": "(11) 98765-4321", "body": "x", "sendAt": "2030-01-01T00:00:00Z"})

    assert by_id.status_code == by_phone.status_code == 409
    assert by_id.get_json()["details"] == {"ticketId": theirs.id} and Schedule.select().count() == 0


def test_a_schedule_goes_to_a_group_by_its_id(client, headers, connection):
    daily = client.post("/api/schedules", headers=headers, json={
        "connectionId": connection.id, "to": "120363012345678901@g.us", "body": "Bom dia, equipe", "cron": "0 8 * * 1-5"})
    bad = client.post("/api/schedules", headers=headers, json={
        "connectionId": connection.id, "to": "sales@g.us", "body": "oi", "cron": "0 8 * * 1-5"})

    assert (daily.status_code, daily.get_json()["to"]) == (201, "120363012345678901@g.us"), daily.get_json()
    assert (bad.status_code, list(bad.get_json()["details"])) == (400, ["to"])
