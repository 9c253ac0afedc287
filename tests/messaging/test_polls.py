"""Polls: ours sent as WhatsApp's own, a contact's stored as theirs; the votes on either kept on the poll, one per
person (the latest winning, none once withdrawn), never a message of their own."""

from __future__ import annotations

import logging

import pytest

from db.base import utcnow
from db.messages import Message, PendingFollowUp, PollVote
from db.tickets import Ticket
from tests.messaging.test_edits import on_last_retry
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.messaging.test_read_receipts import queued_on_session
from tests.waiting import wait_for
from workers.inbound import handle_inbound
from workers.message_changes import MessageNotStoredYet, handle_poll_vote
from workers.messages import outgoing_for
from workers.transports import simulator
from workers.transports.base import InboundMessage, Poll, PollVoted, option_hash

CUSTOMER = "5511987654321"
LUNCH = {"name": "Lunch?", "options": ["Pizza", "Sushi", "Salad"], "selectable_count": 1}


def vote(connection, *options: str, at: float = 1_800_000_060.0, wa_id: str = "3EB0POLL", **fields) -> dict:
    return PollVoted(connection.id, wa_id=wa_id, chat=CUSTOMER, sender=fields.pop("sender", CUSTOMER),
                     option_hashes=tuple(map(option_hash, options)), timestamp=at, **fields).to_dict()


@pytest.fixture
def poll(factories, company, connection):
    """A poll of ours, sent to the contact, in a ticket with nothing unread."""
    ticket = factories.ticket(company, connection=connection, contact=factories.contact(company, phone=f"+{CUSTOMER}"),
                              status="open", last_message="📊 Lunch?")
    return factories.message(ticket, direction="out", status="read", type="poll", wa_id="3EB0POLL",
                             body=Poll("Lunch?", ("Pizza", "Sushi", "Salad")).text(), poll=LUNCH)


def votes(message: Message) -> dict[str, list[str]]:
    return {v.voter: v.options for v in PollVote.select().where(PollVote.message == message.id) if v.options}


# --- sending
def test_a_poll_is_stored_with_its_question_and_options_in_words_and_sent_as_a_poll(client, admin_headers,
                                                                                   connection):
    answer = client.post("/api/messages", headers=admin_headers, json={
        "to": f"+{CUSTOMER}", "poll": {"name": "Lunch?", "options": ["Pizza", "Sushi"], "selectableCount": 0}})

    assert answer.status_code == 202, answer.get_json()
    message = Message.get_by_id(answer.get_json()["id"])
    assert (message.type, message.body) == ("poll", "Lunch?\n○ Pizza\n○ Sushi")
    assert message.poll == {"name": "Lunch?", "options": ["Pizza", "Sushi"], "selectable_count": 0}
    assert message.ticket.last_message == "📊 Lunch?"
    outgoing = outgoing_for(message, message.contact, {})
    assert (outgoing.poll, outgoing.body) == (Poll("Lunch?", ("Pizza", "Sushi"), 0), message.body)
    shown = client.get(f"/api/messages/{message.id}", headers=admin_headers).get_json()
    assert shown["poll"] == {"name": "Lunch?", "selectableCount": 0, "options": [
        {"name": "Pizza", "votes": 0, "voters": []}, {"name": "Sushi", "votes": 0, "voters": []}]}


@pytest.mark.parametrize("poll, field", [
    ({"name": "Lunch?", "options": ["Pizza"]}, "poll.options"),
    ({"name": "Lunch?", "options": [str(n) for n in range(13)]}, "poll.options"),
    ({"name": "Lunch?", "options": ["Pizza", " Pizza "]}, "poll.options"),
    ({"name": "Lunch?", "options": ["Pizza", " "]}, "poll.options.1"),
    ({"name": "", "options": ["Pizza", "Sushi"]}, "poll.name"),
    ({"name": "Lunch?", "options": ["Pizza", "Sushi"], "selectableCount": 3}, "poll"),
    ({"name": "Lunch?", "options": ["Pizza", "Sushi"], "selectableCount": -1}, "poll.selectableCount"),
    ({"options": ["Pizza", "Sushi"]}, "poll.name"),
])
def test_a_poll_wants_a_question_and_two_to_twelve_different_options_and_a_choosable_count(client, admin_headers,
                                                                                           connection, poll, field):
    answer = client.post("/api/messages", json={"to": f"+{CUSTOMER}", "poll": poll}, headers=admin_headers)

    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["error"] == "validation_error"
    assert field in answer.get_json()["details"], answer.get_json()
    assert Message.select().count() == 0


@pytest.mark.parametrize("extra, field", [({"body": "vote!"}, "body"), ({"location": {"latitude": 1, "longitude": 2}},
                                                                         "poll"),
                                          ({"mediaUrl": "https://example.com/a.jpg"}, "mediaUrl")])
def test_a_poll_goes_alone(client, admin_headers, connection, extra, field):
    answer = client.post("/api/messages", headers=admin_headers, json={
        "to": f"+{CUSTOMER}", "poll": {"name": "Lunch?", "options": ["Pizza", "Sushi"]}, **extra})

    assert answer.status_code == 400 and field in answer.get_json()["details"], answer.get_json()


# --- votes
def test_a_vote_is_kept_on_the_poll_once_and_is_no_message(poll, connection, broker, realtime):  # noqa: F811
    first = handle_poll_vote.fn(vote(connection, "Sushi"))
    again = handle_poll_vote.fn(vote(connection, "Sushi"))

    assert first == {"messageId": poll.id, "changed": True, "answeredBot": False, "rated": False}
    assert again == {"messageId": poll.id, "changed": False, "answeredBot": False, "rated": False}
    assert votes(poll) == {f"+{CUSTOMER}": ["Sushi"]}
    assert Message.select().count() == 1 and PendingFollowUp.select().count() == 0
    ticket = Ticket.get()
    assert (ticket.unread_messages, ticket.last_message, ticket.status) == (0, "📊 Lunch?", "open")
    [(event, data)] = realtime()
    assert (event, data["id"]) == ("message:update", poll.id)
    assert data["poll"]["options"][1] == {"name": "Sushi", "votes": 1, "voters": [f"+{CUSTOMER}"]}
    assert queued_on_session(broker, connection) == []  # no greeting, menu or bot answers a vote


def test_a_vote_replaced_or_withdrawn_stays_so_when_an_older_one_comes_late(poll, connection, broker):
    handle_poll_vote.fn(vote(connection, "Pizza", at=1_800_000_060.0))
    handle_poll_vote.fn(vote(connection, "Salad", "Sushi", at=1_800_000_120.0))
    handle_poll_vote.fn(vote(connection, "Pizza", at=1_800_000_090.0))
    replaced = votes(poll)
    handle_poll_vote.fn(vote(connection, at=1_800_000_180.0))
    handle_poll_vote.fn(vote(connection, "Pizza", at=1_800_000_150.0))

    assert replaced == {f"+{CUSTOMER}": ["Sushi", "Salad"]}  # in the poll's order
    assert votes(poll) == {}


def test_options_the_poll_does_not_have_are_ignored_and_a_vote_on_what_is_no_poll_changes_nothing(
        poll, factories, connection, broker):
    said = factories.message(poll.ticket, wa_id="3A0TEXT", body="hi")

    handle_poll_vote.fn(vote(connection, "Pizza", "Burger"))
    on_text = handle_poll_vote.fn(vote(connection, "Pizza", wa_id="3A0TEXT"))

    assert votes(poll) == {f"+{CUSTOMER}": ["Pizza"]}
    assert on_text == {"notAPoll": said.id} and votes(said) == {}


def test_a_vote_before_its_poll_retries_and_is_given_up_once_the_retries_are_spent(connection, broker):
    with pytest.raises(MessageNotStoredYet):
        handle_poll_vote.fn(vote(connection, "Pizza"))

    assert on_last_retry(broker, handle_poll_vote, vote(connection, "Pizza")) == {"missing": "3EB0POLL"}
    assert PollVote.select().count() == 0


def test_everyones_votes_are_counted_ours_as_me(client, admin_headers, poll, connection, broker):
    handle_poll_vote.fn(vote(connection, "Sushi"))
    handle_poll_vote.fn(vote(connection, "Sushi", from_me=True, sender="5511900000000", at=1_800_000_070.0))
    handle_poll_vote.fn(vote(connection, "Pizza", sender="5511900000001", at=1_800_000_080.0))

    shown = client.get(f"/api/messages/{poll.id}", headers=admin_headers).get_json()["poll"]

    assert shown == {"name": "Lunch?", "selectableCount": 1, "options": [
        {"name": "Pizza", "votes": 1, "voters": ["+5511900000001"]},
        {"name": "Sushi", "votes": 2, "voters": [f"+{CUSTOMER}", "me"]},
        {"name": "Salad", "votes": 0, "voters": []}]}


def test_a_page_of_messages_reads_its_polls_votes_in_one_query(client, admin_headers, factories, company, connection,
                                                               caplog):
    ticket = factories.ticket(company, connection=connection)
    factories.message(ticket, body="just a text")
    for n in range(4):
        message = factories.message(ticket, type="poll", body="Lunch?", poll=LUNCH)
        PollVote.create(message=message.id, voter=f"+551190000000{n}", options=["Pizza"], at=utcnow())
    caplog.set_level(logging.DEBUG, logger="peewee")

    page = client.get(f"/api/tickets/{ticket.id}/messages", headers=admin_headers).get_json()["items"]

    assert [m["poll"]["options"][0]["votes"] if m["poll"] else None for m in page] == [None, 1, 1, 1, 1]
    assert sum('"poll_vote"' in record.getMessage() for record in caplog.records) == 1


# --- a contact's poll
def test_a_contacts_poll_is_stored_as_theirs_and_takes_votes(poll, connection, broker):
    asked = InboundMessage(connection.id, wa_id="3A0THEIRPOLL", chat=CUSTOMER, sender=CUSTOMER, type="poll",
                           body=Poll("Meet?", ("Mon", "Tue")).text(), poll=Poll("Meet?", ("Mon", "Tue"), 0),
                           timestamp=1_800_000_000.0)
    handle_inbound.fn(asked.to_dict())
    theirs = Message.get(Message.wa_id == "3A0THEIRPOLL")

    handle_poll_vote.fn(vote(connection, "Mon", "Tue", wa_id="3A0THEIRPOLL", from_me=True, sender="5511900000000"))

    assert (theirs.direction, theirs.type, theirs.body) == ("in", "poll", "Meet?\n○ Mon\n○ Tue")
    assert theirs.poll == {"name": "Meet?", "options": ["Mon", "Tue"], "selectable_count": 0}
    assert votes(theirs) == {"me": ["Mon", "Tue"]}
    assert theirs.ticket.last_message == "📊 Meet?"


# --- through the simulated network
def test_a_poll_reaches_the_contacts_phone_and_their_votes_come_back(client, admin_headers, connection, redis_client,
                                                                     worker, gateway):
    sent = client.post("/api/messages", headers=admin_headers, json={
        "to": f"+{CUSTOMER}", "poll": {"name": "Lunch?", "options": ["Pizza", "Sushi", "Salad"],
                                       "selectableCount": 2}})
    poll_id = sent.get_json()["id"]
    assert wait_for(lambda: Message.get_by_id(poll_id).status == "read", timeout=20)
    [entry], _ = simulator.outbox(redis_client, connection.id)
    shown = client.get(f"/api/simulator/{connection.id}/outbox", headers=admin_headers).get_json()["items"]
    wa_id = Message.get_by_id(poll_id).wa_id

    voted = client.post(f"/api/simulator/{connection.id}/vote", headers=admin_headers,
                        json={"from": f"+{CUSTOMER}", "waId": wa_id, "options": ["Salad", "Pizza"]})

    assert (entry["type"], entry["body"]) == ("poll", "Lunch?\n○ Pizza\n○ Sushi\n○ Salad")
    assert entry["poll"] == shown[0]["poll"] == {"name": "Lunch?", "options": ["Pizza", "Sushi", "Salad"],
                                                 "selectableCount": 2}
    assert voted.status_code == 202, voted.get_json()
    assert wait_for(lambda: votes(Message.get_by_id(poll_id)), timeout=20)
    listed = client.get(f"/api/tickets/{Ticket.get().id}/messages", headers=admin_headers).get_json()["items"]
    assert len(listed) == 1  # a vote is no message
    assert [(o["name"], o["voters"]) for o in listed[0]["poll"]["options"]] == [
        ("Pizza", [f"+{CUSTOMER}"]), ("Sushi", []), ("Salad", [f"+{CUSTOMER}"])]

    client.post(f"/api/simulator/{connection.id}/vote", headers=admin_headers,
                json={"from": f"+{CUSTOMER}", "waId": wa_id, "options": []})

    assert wait_for(lambda: votes(Message.get_by_id(poll_id)) == {}, timeout=20)


def test_a_contact_asks_a_poll_through_the_simulator(client, admin_headers, connection, worker, gateway):
    asked = client.post(f"/api/simulator/{connection.id}/inbound", headers=admin_headers, json={
        "from": f"+{CUSTOMER}", "poll": {"name": "Meet?", "options": ["Mon", "Tue"], "selectableCount": 0}})
    alone = client.post(f"/api/simulator/{connection.id}/inbound", headers=admin_headers, json={
        "from": f"+{CUSTOMER}", "body": "see", "poll": {"name": "Meet?", "options": ["Mon", "Tue"]}})

    assert asked.status_code == 202, asked.get_json()
    assert alone.status_code == 400 and "body" in alone.get_json()["details"]
    assert wait_for(lambda: Message.select().where(Message.type == "poll").exists(), timeout=20)
    message = Message.get(Message.type == "poll")
    assert (message.direction, message.poll) == ("in", {"name": "Meet?", "options": ["Mon", "Tue"],
                                                        "selectable_count": 0})
