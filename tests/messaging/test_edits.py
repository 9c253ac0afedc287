"""Edited messages: a contact's edit gives their message its new text (once, the latest winning, even when the edit
comes before its message), and we edit a text of ours on the contact's phone within WhatsApp's 15 minutes."""

from __future__ import annotations

import datetime as dt

import pytest
from dramatiq.middleware import CurrentMessage

from db.base import utcnow
from db.messages import Message
from db.tickets import Ticket
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.messaging.test_read_receipts import queued_on_session
from tests.waiting import wait_for
from workers.chat_actions import NotCommitted, edit_on_whatsapp
from workers.inbound import handle_inbound
from workers.message_changes import WAITING_RETRIES, MessageNotStoredYet, handle_edit
from workers.transports import simulator
from workers.transports.base import InboundMessage, MessageEdited

CUSTOMER = "5511987654321"


def inbound(connection, body: str = "see you at 5", wa_id: str = "3EB0THEIRS") -> dict:
    return InboundMessage(connection.id, wa_id=wa_id, chat=CUSTOMER, sender=CUSTOMER, body=body,
                          timestamp=1_800_000_000.0).to_dict()


def edit(connection, body: str, at: float = 1_800_000_060.0, wa_id: str = "3EB0THEIRS") -> dict:
    return MessageEdited(connection.id, wa_id=wa_id, chat=CUSTOMER, body=body, timestamp=at).to_dict()


def on_last_retry(broker, actor, event: dict):
    """The actor run on its last retry, as a worker runs it."""
    message = actor.message(event).copy(options={"retries": WAITING_RETRIES})
    current = CurrentMessage()
    current.before_process_message(broker, message)
    try:
        return actor.fn(event)
    finally:
        current.after_process_message(broker, message)


# --- the contact edits
def test_a_contacts_edit_gives_their_message_its_new_text_once_when_delivered_twice(connection, broker,
                                                                                   realtime):  # noqa: F811
    handle_inbound.fn(inbound(connection))
    realtime()  # the message's own events

    first = handle_edit.fn(edit(connection, "see you at 6"))
    again = handle_edit.fn(edit(connection, "see you at 6"))

    message, ticket = Message.get(), Ticket.get()
    assert (message.body, message.edited_at) == ("see you at 6", dt.datetime(2027, 1, 15, 8, 1))
    assert (ticket.last_message, ticket.unread_messages) == ("see you at 6", 1)  # it was the last message
    assert first == {"edited": [message.id]} and again == {"edited": []}
    [(event, data), (ticket_event, ticket_data)] = realtime()
    assert (event, data["id"], data["body"], data["editedAt"]) == ("message:update", message.id, "see you at 6",
                                                                   "2027-01-15T08:01:00.000Z")
    assert (ticket_event, ticket_data["lastMessage"]) == ("ticket:update", "see you at 6")
    assert queued_on_session(broker, connection) == []  # nothing answers an edit


def test_an_edit_delivered_late_does_not_undo_a_later_one_and_ours_are_not_the_contacts_to_edit(factories, company,
                                                                                                connection, broker):
    handle_inbound.fn(inbound(connection))
    ticket = Ticket.get()
    ours = factories.message(ticket, direction="out", status="sent", body="hello", wa_id="3EB0OURS")

    handle_edit.fn(edit(connection, "at 7", at=1_800_000_120.0))
    handle_edit.fn(edit(connection, "at 6", at=1_800_000_060.0))
    handle_edit.fn(edit(connection, "hacked", wa_id="3EB0OURS"))

    assert Message.get(Message.wa_id == "3EB0THEIRS").body == "at 7"
    assert (Message.get_by_id(ours.id).body, Message.get_by_id(ours.id).edited_at) == ("hello", None)


def test_an_edit_before_its_message_retries_and_is_given_up_once_the_retries_are_spent(connection, broker):
    with pytest.raises(MessageNotStoredYet):
        handle_edit.fn(edit(connection, "at 6"))

    assert on_last_retry(broker, handle_edit, edit(connection, "at 6")) == {"missing": "3EB0THEIRS"}


def test_an_edit_that_comes_before_its_message_waits_for_it(client, admin_headers, connection, broker, worker,
                                                            gateway):
    edited = client.post(f"/api/simulator/{connection.id}/edit",
                         json={"from": f"+{CUSTOMER}", "waId": "3EB0EARLY", "body": "at 6, then"}, headers=admin_headers)
    assert edited.status_code == 202, edited.get_json()
    assert wait_for(lambda: broker.client.hlen("dramatiq:inbound.DQ.msgs") == 1, timeout=20)  # tried, to retry

    client.post(f"/api/simulator/{connection.id}/inbound", json={"from": f"+{CUSTOMER}", "body": "at 5",
                                                                 "waId": "3EB0EARLY"}, headers=admin_headers)

    assert wait_for(lambda: Message.select().where(Message.body == "at 6, then").exists(), timeout=20)
    [shown] = client.get(f"/api/tickets/{Ticket.get().id}/messages", headers=admin_headers).get_json()["items"]
    assert (shown["waId"], shown["body"]) == ("3EB0EARLY", "at 6, then") and shown["editedAt"]


# --- we edit
def other_callers(app, factories, company) -> tuple[dict, dict, dict]:
    """The headers of an agent who sees none of the test's tickets, of a program that may send, of one that may read."""
    return (factories.auth_headers(app, factories.user(company, role="agent")),
            {"X-API-Key": factories.api_key(company, ["messages:send"])},
            {"X-API-Key": factories.api_key(company, ["messages:read"])})


def send(client, headers, body: str = "see you at 5") -> int:
    answer = client.post("/api/messages", json={"to": f"+{CUSTOMER}", "body": body}, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["id"]


def test_a_text_we_edit_changes_on_the_contacts_phone(client, admin_headers, connection, redis_client, worker,
                                                      gateway):
    message_id = send(client, admin_headers)
    assert wait_for(lambda: Message.get_by_id(message_id).status == "read", timeout=20)

    answer = client.patch(f"/api/messages/{message_id}", json={"body": "see you at 6"}, headers=admin_headers)

    assert answer.status_code == 200, answer.get_json()
    assert (answer.get_json()["body"], answer.get_json()["status"]) == ("see you at 6", "read")
    assert answer.get_json()["editedAt"]

    def on_the_phone() -> dict:
        return simulator.outbox(redis_client, connection.id)[0][0]

    assert wait_for(lambda: on_the_phone()["body"] == "see you at 6", timeout=20)
    assert on_the_phone()["editedAt"] is not None
    same = client.patch(f"/api/messages/{message_id}", json={"body": "see you at 6"}, headers=admin_headers)
    assert same.status_code == 200 and same.get_json()["editedAt"] == answer.get_json()["editedAt"]  # nothing to do
    assert Ticket.get().last_message == "see you at 6"
    listed = client.get(f"/api/simulator/{connection.id}/outbox", headers=admin_headers).get_json()["items"]
    assert (listed[0]["body"], listed[0]["editedAt"] is not None) == ("see you at 6", True)


def test_an_edit_that_runs_before_its_commit_retries(factories, company, connection):
    ticket = factories.ticket(company, connection=connection)
    sent = factories.message(ticket, direction="out", status="sent", edited_at=utcnow())

    with pytest.raises(NotCommitted):
        edit_on_whatsapp.fn(connection.id, sent.id, (utcnow() + dt.timedelta(seconds=1)).isoformat())


def test_only_our_sent_texts_of_a_visible_ticket_within_15_minutes_can_be_edited(client, app, admin_headers,
                                                                                 factories, company, connection):
    ticket = factories.ticket(company, connection=connection, status="open", user=factories.user(company, "agent"))

    def ours(**fields) -> Message:
        return factories.message(ticket, **{"direction": "out", "status": "sent", "sent_at": utcnow(), **fields})

    refused = {
        "theirs": factories.message(ticket, status="delivered"),
        "not sent": ours(status="queued", sent_at=None),
        "failed": ours(status="failed", sent_at=None),
        "too old": ours(sent_at=utcnow() - dt.timedelta(minutes=16)),
        "an image": ours(type="image"),
        "deleted": ours(deleted_at=utcnow()),
    }
    editable = ours(body="hello")
    agent, program, reader = other_callers(app, factories, company)

    def edit_as(headers, message: Message, body="hi"):
        return client.patch(f"/api/messages/{message.id}", json={"body": body}, headers=headers)

    conflicts = {why: edit_as(admin_headers, message) for why, message in refused.items()}
    hidden = edit_as(agent, editable)
    unscoped = edit_as(reader, editable)
    empty = edit_as(admin_headers, editable, body="  ")
    unknown = client.patch(f"/api/messages/{editable.id}", json={"body": "hi", "to": "x"}, headers=admin_headers)
    by_program = edit_as(program, editable, body="edited by a program")

    assert {why: (answer.status_code, answer.get_json()["error"]) for why, answer in conflicts.items()} == {
        why: (409, "conflict") for why in refused}
    assert "15 minutes" in conflicts["too old"].get_json()["message"]
    assert hidden.status_code == 404 and unscoped.status_code == 403
    assert empty.status_code == 400 and "body" in empty.get_json()["details"]
    assert unknown.status_code == 400 and unknown.get_json()["details"] == {"to": "unknown field"}
    assert by_program.status_code == 200 and by_program.get_json()["body"] == "edited by a program"
    assert client.patch("/api/messages/999999", json={"body": "hi"}, headers=admin_headers).status_code == 404
    assert Message.select().where(Message.edited_at.is_null(False)).count() == 1
