"""Snoozing a ticket (Chatwoot's snooze): an open ticket out of the way until a time or until the contact writes,
set by whoever may act on it, recorded, announced and filtered on; taking it in hand wakes it."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from api.schemas import iso_utc
from db.base import utcnow
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)


def in_hours(hours: float) -> str:
    return iso_utc(utcnow() + dt.timedelta(hours=hours))


def events(client, ticket_id: int, headers: dict) -> list[tuple[str, dict]]:
    history = client.get(f"/api/tickets/{ticket_id}/history", headers=headers).get_json()["events"]
    return [(e["kind"], e["data"]) for e in history if e["kind"] in ("snoozed", "woke")]


def test_a_snooze_until_a_time_is_shown_recorded_announced_and_unsnoozed(client, factories, company, headers,
                                                                         realtime):  # noqa: F811
    ticket = factories.ticket(company, status="open")
    until = in_hours(20)

    snoozed = client.post(f"/api/tickets/{ticket.id}/snooze", json={"until": until}, headers=headers)
    woken = client.post(f"/api/tickets/{ticket.id}/unsnooze", headers=headers)
    again = client.post(f"/api/tickets/{ticket.id}/unsnooze", headers=headers)

    assert snoozed.status_code == 200
    assert snoozed.get_json()["snoozedUntil"] == until and snoozed.get_json()["snoozedAt"] is not None
    assert snoozed.get_json()["status"] == "open"
    assert woken.status_code == again.status_code == 200
    assert (woken.get_json()["snoozedAt"], woken.get_json()["snoozedUntil"]) == (None, None)
    assert events(client, ticket.id, headers) == [("snoozed", {"until": until}), ("woke", {"reason": "unsnoozed"})]
    assert [data["snoozedUntil"] for event, data in realtime() if event == "ticket:update"] == [until, None]


def test_a_snooze_without_a_time_lasts_until_the_contact_writes(client, factories, company, headers):
    ticket = factories.ticket(company, status="open")

    bare = client.post(f"/api/tickets/{ticket.id}/snooze", headers=headers).get_json()
    null = client.post(f"/api/tickets/{ticket.id}/snooze", json={"until": None}, headers=headers).get_json()

    assert bare["snoozedAt"] is not None and bare["snoozedUntil"] is None and null["snoozedUntil"] is None
    assert events(client, ticket.id, headers) == [("snoozed", {"until": None})] * 2


@pytest.mark.parametrize("until", [lambda: in_hours(-1), lambda: in_hours(24 * 91), lambda: "tomorrow"],
                         ids=["past", "over 90 days", "not a time"])  # the times made when run: one id everywhere
def test_a_time_in_the_past_too_far_ahead_or_not_a_time_is_refused(client, factories, company, headers, until):
    ticket = factories.ticket(company, status="open")
    until = until()

    response = client.post(f"/api/tickets/{ticket.id}/snooze", json={"until": until}, headers=headers)

    assert (response.status_code, list(response.get_json()["details"])) == (400, ["until"])
    assert client.get(f"/api/tickets/{ticket.id}", headers=headers).get_json()["snoozedAt"] is None


@pytest.mark.parametrize("status", ["pending", "closed"])
def test_only_an_open_ticket_is_snoozed(client, factories, company, headers, status):
    ticket = factories.ticket(company, status=status)

    response = client.post(f"/api/tickets/{ticket.id}/snooze", json={"until": in_hours(1)}, headers=headers)

    assert response.status_code == 409
    assert events(client, ticket.id, headers) == []


def test_whoever_may_act_on_the_ticket_snoozes_it_and_programs_with_tickets_write(app, client, factories, company,
                                                                                  headers):
    agent = factories.user(company, role="agent")
    theirs = factories.ticket(company, status="open", user=agent)
    another_agents = factories.ticket(company, status="open", user=factories.user(company, role="agent"))
    as_agent = factories.auth_headers(app, agent)
    writer = {"X-API-Key": factories.api_key(company, ["tickets:write"])}
    reader = {"X-API-Key": factories.api_key(company, ["tickets:read"])}
    elsewhere = factories.ticket(factories.company(), status="open")

    assert client.post(f"/api/tickets/{theirs.id}/snooze", headers=as_agent).status_code == 200
    assert client.post(f"/api/tickets/{another_agents.id}/snooze", headers=as_agent).status_code == 404
    assert client.post(f"/api/tickets/{another_agents.id}/snooze", headers=reader).status_code == 403
    assert client.post(f"/api/tickets/{another_agents.id}/snooze", headers=writer).status_code == 200
    assert client.post(f"/api/tickets/{another_agents.id}/unsnooze", headers=writer).status_code == 200
    assert client.post(f"/api/tickets/{elsewhere.id}/snooze", headers=writer).status_code == 404
    history = client.get(f"/api/tickets/{another_agents.id}/history", headers=headers).get_json()["events"]
    assert [(e["kind"], e["userId"]) for e in history] == [("snoozed", None), ("woke", None)]  # a program's


@pytest.mark.parametrize("action, reason", [("close", "closed"), ("transfer", "transferred"), ("accept", "accepted")])
def test_taking_the_ticket_in_hand_wakes_it(app, client, factories, company, headers, action, reason):
    ticket = factories.ticket(company, status="open", user=factories.user(company, role="agent"))
    client.post(f"/api/tickets/{ticket.id}/snooze", json={"until": in_hours(5)}, headers=headers)
    body = {"close": {"sendFarewell": False}, "transfer": {"userId": factories.user(company, role="agent").id},
            "accept": None}[action]

    done = client.post(f"/api/tickets/{ticket.id}/{action}", json=body, headers=headers)

    assert done.status_code == 200 and done.get_json()["snoozedAt"] is None
    assert events(client, ticket.id, headers)[-1] == ("woke", {"reason": reason})


def test_the_list_shows_both_or_filters_by_snoozed(client, factories, company, headers):
    snoozed, awake = factories.ticket(company, status="open"), factories.ticket(company, status="open")
    client.post(f"/api/tickets/{snoozed.id}/snooze", headers=headers)

    def ids(query: str) -> set[int]:
        return {t["id"] for t in client.get(f"/api/tickets?{query}", headers=headers).get_json()["items"]}

    assert ids("status=open") == {snoozed.id, awake.id}  # no filter: as before snoozing existed
    assert ids("status=open&snoozed=true") == {snoozed.id}
    assert ids("status=open&snoozed=false") == {awake.id}


def test_the_export_says_which_tickets_sleep_and_until_when(client, factories, company, headers):
    until_a_time, until_a_reply, awake = (factories.ticket(company, status="open") for _ in range(3))
    until = in_hours(20)
    client.post(f"/api/tickets/{until_a_time.id}/snooze", json={"until": until}, headers=headers)
    client.post(f"/api/tickets/{until_a_reply.id}/snooze", headers=headers)

    export = client.get("/api/tickets/export", headers=headers)

    rows = {int(row["id"]): row for row in csv.DictReader(io.StringIO(export.get_data(as_text=True)))}
    assert rows[until_a_time.id]["snoozedUntil"] == until and rows[until_a_time.id]["snoozedAt"]
    assert rows[until_a_reply.id]["snoozedAt"] and rows[until_a_reply.id]["snoozedUntil"] == ""
    assert rows[awake.id]["snoozedAt"] == rows[awake.id]["snoozedUntil"] == ""
