"""Notifications: a colleague mentioned in a note, or given a ticket by someone else, is told until they read it."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest

import workers.emails
from db.base import database
from db.notifications import Notification
from db.queues import UserQueue
from db.tickets import TicketNote
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.waiting import wait_for
from workers.assignment import assign_waiting_tickets
from workers.emails import email_notification
from workers.notifications import notify


@pytest.fixture
def queue(factories, company):
    return factories.queue(company, name="Suporte")


def agent_in(factories, company, queue, name: str):
    agent = factories.user(company, role="agent", name=name)
    UserQueue.create(user=agent, queue=queue)
    return agent


def pushed(realtime) -> list[int]:  # noqa: F811
    """The ids of the notifications pushed (`notification:new`) since the last look."""
    return [data["id"] for event, data in realtime() if event == "notification:new"]


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


def test_each_ticket_given_is_pushed_once_by_a_transfer_and_by_the_scheduler(app, client, factories, company, queue,
                                                                           broker, realtime):  # noqa: F811
    ana, bruno = agent_in(factories, company, queue, "Ana"), agent_in(factories, company, queue, "Bruno")
    as_admin = factories.auth_headers(app, factories.user(company, role="admin"))
    transferred = factories.ticket(company, queue=queue, status="open", user=ana)

    client.post(f"/api/tickets/{transferred.id}/transfer", json={"userId": bruno.id}, headers=as_admin)

    assert pushed(realtime) == [Notification.get(Notification.ticket == transferred.id).id]

    queue.auto_assign = True
    queue.save()
    waiting = factories.ticket(company, queue=queue, status="pending")
    bruno.online_status = "online"
    bruno.save()

    assign_waiting_tickets()

    assert pushed(realtime) == [Notification.get(Notification.ticket == waiting.id).id]


def test_a_notification_is_pushed_once_its_change_commits_and_never_for_one_rolled_back(factories, company, queue,
                                                                                      broker, realtime):  # noqa: F811
    bruno = agent_in(factories, company, queue, "Bruno")
    ticket = factories.ticket(company, queue=queue)

    with pytest.raises(RuntimeError), database.atomic():
        notify([bruno.id], "assigned", ticket, reason="transfer")
        raise RuntimeError("the change fails")
    with database.atomic():
        with contextlib.suppress(RuntimeError), database.atomic():  # a savepoint rolled back, its transaction not
            notify([bruno.id], "assigned", ticket, reason="transfer")
            raise RuntimeError("this part fails")
        [kept] = notify([bruno.id], "assigned", ticket, reason="transfer")
        assert pushed(realtime) == []  # not yet committed

    assert pushed(realtime) == [kept.id]
    assert [n.id for n in Notification.select()] == [kept.id]


def test_notifications_are_e_mailed_as_each_user_prefers_and_once(app, client, factories, company, queue, worker,
                                                                  smtp_server):
    ana, bruno, carla = (agent_in(factories, company, queue, name) for name in ("Ana", "Bruno", "Carla"))
    ticket = factories.ticket(company, queue=queue, user=ana, status="open",
                              contact=factories.contact(company, name="Marta Reis"))
    client.patch("/api/profile", json={"preferences": {"emailNotifications": {"mention": False}}},
                 headers=factories.auth_headers(app, carla))

    client.post(f"/api/tickets/{ticket.id}/notes", headers=factories.auth_headers(app, ana),
                json={"body": "@Bruno @Carla the invoice?", "mentionedUserIds": [bruno.id, carla.id, ana.id]})

    told = Notification.get(Notification.user == bruno.id)
    assert wait_for(lambda: smtp_server.messages)
    email_notification.fn(told.id)  # a redelivered job
    [sent] = smtp_server.messages
    assert sent.rcpt_tos == [bruno.email]
    text = sent.content.decode()
    assert f"Ana mentioned you on ticket #{ticket.id} with Marta Reis" in text and "@Bruno @Carla the invoice?" in text
    assert Notification.get(Notification.user == carla.id).emailed_at is None


def test_without_e_mail_a_notification_stays_in_the_app(app, client, factories, company, queue, email_off,
                                                         smtp_server):
    ana, bruno = agent_in(factories, company, queue, "Ana"), agent_in(factories, company, queue, "Bruno")
    ticket = factories.ticket(company, queue=queue)

    client.post(f"/api/tickets/{ticket.id}/transfer", json={"userId": bruno.id},
                headers=factories.auth_headers(app, ana))
    [told] = Notification.select()
    email_notification.fn(told.id)

    assert told.user_id == bruno.id
    assert smtp_server.messages == [] and Notification.get_by_id(told.id).emailed_at is None


def test_no_e_mail_about_ones_own_action_nor_to_an_inactive_user(app, client, factories, company, queue, broker,
                                                                 smtp_server):
    ana, bruno = agent_in(factories, company, queue, "Ana"), agent_in(factories, company, queue, "Bruno")
    as_ana = factories.auth_headers(app, ana)
    mine, theirs = factories.ticket(company, queue=queue), factories.ticket(company, queue=queue)

    client.post(f"/api/tickets/{mine.id}/transfer", json={"userId": ana.id}, headers=as_ana)
    client.post(f"/api/tickets/{theirs.id}/transfer", json={"userId": bruno.id}, headers=as_ana)
    bruno.active = False
    bruno.save()
    [told] = Notification.select()
    email_notification.fn(told.id)

    assert (told.user_id, told.data) == (bruno.id, {"reason": "transfer"})
    assert smtp_server.messages == [] and Notification.get_by_id(told.id).emailed_at is None


def test_an_assignment_e_mail_says_who_gave_which_ticket(app, client, factories, company, queue, broker, smtp_server):
    ana, bruno = agent_in(factories, company, queue, "Ana"), agent_in(factories, company, queue, "Bruno")
    ticket = factories.ticket(company, queue=queue, contact=factories.contact(company, name="Marta Reis"))

    client.post(f"/api/tickets/{ticket.id}/transfer", json={"userId": bruno.id},
                headers=factories.auth_headers(app, ana))
    email_notification.fn(Notification.get().id)

    [sent] = smtp_server.messages
    assert f"You were assigned ticket #{ticket.id} with Marta Reis: Ana transferred it to you." in sent.content.decode()
    assert "Open it" not in sent.content.decode()  # no TICKET_LINK: no link


def test_a_notification_e_mail_links_to_the_ticket_in_the_agents_client(app, client, factories, company, queue, broker,
                                                                       smtp_server, monkeypatch):
    monkeypatch.setattr(workers.emails, "settings", dataclasses.replace(
        workers.emails.settings, ticket_link="https://desk.example.com/tickets/{ticketId}"))
    ana, bruno = agent_in(factories, company, queue, "Ana"), agent_in(factories, company, queue, "Bruno")
    ticket = factories.ticket(company, queue=queue)

    client.post(f"/api/tickets/{ticket.id}/transfer", json={"userId": bruno.id},
                headers=factories.auth_headers(app, ana))
    email_notification.fn(Notification.get().id)

    [sent] = smtp_server.messages
    assert f"Open it: https://desk.example.com/tickets/{ticket.id}" in sent.content.decode()
