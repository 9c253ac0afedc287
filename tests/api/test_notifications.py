"""Notifications: a colleague mentioned in a note, or given a ticket by someone else, is told until they read it."""

from __future__ import annotations

import pytest

from db.notifications import Notification
from db.queues import UserQueue
from db.tickets import TicketNote
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from workers.assignment import assign_waiting_tickets


@pytest.fixture
def company(factories):
    return factories.company()


@pytest.fixture
def queue(factories, company):
    return factories.queue(company, name="Suporte")


def agent_in(factories, company, queue, name: str):
    agent = factories.user(company, role="agent", name=name)
    UserQueue.create(user=agent, queue=queue)
    return agent


def test_a_mention_in_a_note_tells_the_colleague_and_no_one_else(app, client, factories, company, queue,
                                                               realtime):  # noqa: F811
    ana, bruno = agent_in(factories, company, queue, "Ana"), agent_in(factories, company, queue, "Bruno")
    ticket = factories.ticket(company, queue=queue, user=ana, status="open")
    as_ana, as_bruno = factories.auth_headers(app, ana), factories.auth_headers(app, bruno)

    noted = client.post(f"/api/tickets/{ticket.id}/notes", headers=as_ana,
                        json={"body": "@Bruno can you check the invoice?", "mentionedUserIds": [bruno.id, ana.id]})

    assert noted.status_code == 200
    [told] = client.get("/api/notifications", headers=as_bruno).get_json()["items"]
    note = TicketNote.get()
    assert (told["kind"], told["ticketId"], told["actorId"], told["readAt"]) == ("mention", ticket.id, ana.id, None)
    assert told["data"] == {"noteId": note.id, "text": "@Bruno can you check the invoice?"}
    assert client.get("/api/notifications", headers=as_ana).get_json()["total"] == 0  # not told of their own
    assert [data["id"] for event, data in realtime() if event == "notification:new"] == [told["id"]]


def test_a_mention_of_someone_who_cannot_see_the_ticket_or_of_a_stranger_writes_nothing(app, client, factories,
                                                                                       company, queue):
    ana = agent_in(factories, company, queue, "Ana")
    elsewhere = factories.user(company, role="agent", name="Carla")  # in no queue: cannot see it
    ticket = factories.ticket(company, queue=queue, user=ana, status="open")
    as_ana = factories.auth_headers(app, ana)
    stranger = factories.user(factories.company())

    blind = client.post(f"/api/tickets/{ticket.id}/notes", headers=as_ana,
                        json={"body": "look", "mentionedUserIds": [elsewhere.id]})
    unknown = client.post(f"/api/tickets/{ticket.id}/notes", headers=as_ana,
                          json={"body": "look", "mentionedUserIds": [stranger.id]})

    assert (blind.status_code, blind.get_json()["details"]) == (409, {"mentionedUserIds": [elsewhere.id]})
    assert (unknown.status_code, list(unknown.get_json()["details"])) == (400, ["mentionedUserIds"])
    assert TicketNote.select().count() == 0 and Notification.select().count() == 0


def test_a_ticket_given_by_someone_else_is_told_and_one_taken_is_not(app, client, factories, company, queue):
    ana, bruno = agent_in(factories, company, queue, "Ana"), agent_in(factories, company, queue, "Bruno")
    as_admin = factories.auth_headers(app, factories.user(company, role="admin"))
    transferred = factories.ticket(company, queue=queue, status="open", user=ana)
    taken = factories.ticket(company, queue=queue, status="pending")
    queue.auto_assign = True
    queue.save()
    waiting = factories.ticket(company, queue=queue, status="pending")
    bruno.online_status = "online"
    bruno.save()
    ana.online_status = "offline"
    ana.save()

    client.post(f"/api/tickets/{transferred.id}/transfer", json={"userId": bruno.id}, headers=as_admin)
    client.post(f"/api/tickets/{taken.id}/accept", headers=factories.auth_headers(app, ana))
    assign_waiting_tickets()

    told = {(n.user_id, n.ticket_id, n.data["reason"]) for n in Notification.select()}
    assert told == {(bruno.id, transferred.id, "transfer"), (bruno.id, waiting.id, "auto")}


def test_notifications_are_read_by_id_or_all_at_once_and_only_ones_own(app, client, factories, company, queue):
    ana, bruno = agent_in(factories, company, queue, "Ana"), agent_in(factories, company, queue, "Bruno")
    tickets = [factories.ticket(company, queue=queue, status="open") for _ in range(3)]
    first, second, third = (Notification.create(company=company, user=ana, kind="assigned", ticket=t,
                                                data={"reason": "transfer"}) for t in tickets)
    theirs = Notification.create(company=company, user=bruno, kind="assigned", ticket=tickets[0], data={})
    as_ana = factories.auth_headers(app, ana)

    one = client.post("/api/notifications/read", json={"ids": [first.id, theirs.id]}, headers=as_ana).get_json()
    unread = client.get("/api/notifications?unread=true", headers=as_ana).get_json()["items"]
    rest = client.post("/api/notifications/read", headers=as_ana).get_json()
    key = factories.api_key(company, ["tickets:read"])

    assert one == {"read": 1, "unread": 2} and [n["id"] for n in unread] == [third.id, second.id]
    assert rest == {"read": 2, "unread": 0}
    assert Notification.get_by_id(theirs.id).read_at is None
    assert client.get("/api/notifications", headers={"X-API-Key": key}).status_code == 403
