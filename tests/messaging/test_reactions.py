"""Reactions: kept on their message, one per person (the latest winning), never a message of their own; ours are
made on the contact's phone."""

from __future__ import annotations

import logging

import pytest

from db.base import utcnow
from db.messages import Message, MessageReaction, PendingFollowUp
from db.tickets import Ticket
from tests.messaging.test_edits import on_last_retry, other_callers
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.messaging.test_read_receipts import queued_on_session
from tests.waiting import wait_for
from workers.chat_actions import NotCommitted, react_on_whatsapp
from workers.message_changes import MessageNotStoredYet, handle_reaction
from workers.transports import simulator
from workers.transports.base import MessageReacted

CUSTOMER = "5511987654321"


def reaction(connection, emoji: str, at: float = 1_800_000_060.0, wa_id: str = "3EB0OURS", **fields) -> dict:
    return MessageReacted(connection.id, wa_id=wa_id, chat=CUSTOMER, sender=CUSTOMER, emoji=emoji, timestamp=at,
                          **fields).to_dict()


@pytest.fixture
def ours(factories, company, connection):
    """A message of ours, sent to the contact, in a ticket with nothing unread."""
    ticket = factories.ticket(company, connection=connection, contact=factories.contact(company, phone=f"+{CUSTOMER}"),
                              status="open", last_message="hello")
    return factories.message(ticket, direction="out", status="read", body="hello", wa_id="3EB0OURS")


def shown(message: Message) -> list[tuple[str, str]]:
    return [(r.reactor, r.emoji) for r in MessageReaction.select().where(MessageReaction.message == message.id,
                                                                         MessageReaction.emoji != "")]


# --- the contact reacts
def test_a_contacts_reaction_is_kept_on_the_message_once_and_is_no_message(ours, connection, broker,
                                                                           realtime):  # noqa: F811
    first = handle_reaction.fn(reaction(connection, "👍"))
    again = handle_reaction.fn(reaction(connection, "👍"))

    assert first == {"messageId": ours.id, "changed": True} and again == {"messageId": ours.id, "changed": False}
    assert shown(ours) == [(f"+{CUSTOMER}", "👍")]
    assert Message.select().count() == 1 and PendingFollowUp.select().count() == 0
    ticket = Ticket.get()
    assert (ticket.unread_messages, ticket.last_message, ticket.status) == (0, "hello", "open")
    [(event, data)] = realtime()
    assert (event, data["id"], data["reactions"]) == ("message:update", ours.id, [
        {"emoji": "👍", "from": f"+{CUSTOMER}", "at": "2027-01-15T08:01:00.000Z"}])
    assert queued_on_session(broker, connection) == []  # no greeting, menu or bot answers a reaction


def test_a_reaction_replaced_or_taken_back_stays_so_when_an_older_one_comes_late(ours, connection, broker):
    handle_reaction.fn(reaction(connection, "👍", at=1_800_000_060.0))
    handle_reaction.fn(reaction(connection, "❤️", at=1_800_000_120.0))
    handle_reaction.fn(reaction(connection, "😂", at=1_800_000_090.0))
    replaced = shown(ours)
    handle_reaction.fn(reaction(connection, "", at=1_800_000_180.0))
    handle_reaction.fn(reaction(connection, "👍", at=1_800_000_150.0))

    assert replaced == [(f"+{CUSTOMER}", "❤️")]
    assert shown(ours) == []


def test_our_phones_reaction_is_ours_and_a_group_members_is_theirs(factories, company, connection, ours, broker):
    group = factories.ticket(company, connection=connection, is_group=True,
                             contact=factories.contact(company, phone="120363025246125486@g.us", is_group=True))
    said = factories.message(group, wa_id="3A0GROUP")

    handle_reaction.fn(reaction(connection, "🙏", from_me=True))
    handle_reaction.fn(MessageReacted(connection.id, wa_id="3A0GROUP", chat="120363025246125486@g.us",
                                      sender="5511900000001", emoji="🎉", timestamp=1_800_000_060.0).to_dict())

    assert shown(ours) == [("me", "🙏")] and shown(said) == [("+5511900000001", "🎉")]


def test_a_reaction_before_its_message_retries_and_is_given_up_once_the_retries_are_spent(connection, broker):
    with pytest.raises(MessageNotStoredYet):
        handle_reaction.fn(reaction(connection, "👍"))

    assert on_last_retry(broker, handle_reaction, reaction(connection, "👍")) == {"missing": "3EB0OURS"}
    assert MessageReaction.select().count() == 0


# --- both, through the simulated network
def test_reactions_come_and_go_both_ways(client, admin_headers, connection, redis_client, worker, gateway):
    sent = client.post("/api/messages", json={"to": f"+{CUSTOMER}", "body": "your order left"}, headers=admin_headers)
    ours_id = sent.get_json()["id"]
    assert wait_for(lambda: Message.get_by_id(ours_id).status == "read", timeout=20)
    client.post(f"/api/simulator/{connection.id}/inbound", json={"from": f"+{CUSTOMER}", "body": "thanks!",
                                                                 "waId": "3EB0THANKS"}, headers=admin_headers)
    assert wait_for(lambda: Message.select().where(Message.wa_id == "3EB0THANKS").exists(), timeout=20)
    theirs_id = Message.get(Message.wa_id == "3EB0THANKS").id

    contact_reacts = client.post(f"/api/simulator/{connection.id}/react", headers=admin_headers, json={
        "from": f"+{CUSTOMER}", "waId": Message.get_by_id(ours_id).wa_id, "emoji": "❤️"})
    we_react = client.post(f"/api/messages/{theirs_id}/reactions", json={"emoji": "🙏"}, headers=admin_headers)

    assert contact_reacts.status_code == 202, contact_reacts.get_json()
    assert we_react.status_code == 200, we_react.get_json()
    assert [(r["emoji"], r["from"]) for r in we_react.get_json()["reactions"]] == [("🙏", "me")]

    def on_the_phone() -> list[tuple[str, str, str]]:
        items = client.get(f"/api/simulator/{connection.id}/reactions", headers=admin_headers).get_json()["items"]
        return [(r["waId"], r["contact"], r["emoji"]) for r in items]

    assert wait_for(lambda: on_the_phone() == [("3EB0THANKS", f"+{CUSTOMER}", "🙏")], timeout=20)
    assert wait_for(lambda: MessageReaction.select().where(MessageReaction.emoji == "❤️").exists(), timeout=20)
    listed = client.get(f"/api/tickets/{Ticket.get().id}/messages", headers=admin_headers).get_json()["items"]
    assert {m["body"]: [(r["emoji"], r["from"]) for r in m["reactions"]] for m in listed} == {
        "your order left": [("❤️", f"+{CUSTOMER}")], "thanks!": [("🙏", "me")]}
    assert len(listed) == 2  # a reaction is no message

    taken_back = client.post(f"/api/messages/{theirs_id}/reactions", json={"emoji": ""}, headers=admin_headers)

    assert taken_back.status_code == 200 and taken_back.get_json()["reactions"] == []
    assert wait_for(lambda: on_the_phone() == [], timeout=20)


def test_a_reaction_that_runs_before_its_commit_retries(ours, connection):
    MessageReaction.create(message=ours.id, reactor="me", emoji="👍", at=utcnow())

    with pytest.raises(NotCommitted):
        react_on_whatsapp.fn(connection.id, ours.id, "2999-01-01T00:00:00")


def test_a_page_of_messages_reads_its_reactions_in_one_query(client, admin_headers, factories, company, connection,
                                                             caplog):
    ticket = factories.ticket(company, connection=connection)
    for n in range(5):
        message = factories.message(ticket, body=f"m{n}")
        MessageReaction.create(message=message.id, reactor=f"+551190000000{n}", emoji="👍", at=utcnow())
    caplog.set_level(logging.DEBUG, logger="peewee")

    page = client.get(f"/api/tickets/{ticket.id}/messages", headers=admin_headers).get_json()["items"]

    assert [len(m["reactions"]) for m in page] == [1] * 5
    assert sum('"message_reaction"' in record.getMessage() for record in caplog.records) == 1


# --- what we may react to
def test_we_react_only_to_messages_of_visible_tickets_that_reached_whatsapp(client, app, admin_headers, factories,
                                                                          company, connection, broker):
    ticket = factories.ticket(company, connection=connection, status="open", user=factories.user(company, "agent"))
    group = factories.ticket(company, connection=connection, is_group=True,
                             contact=factories.contact(company, phone="120363025246125486@g.us", is_group=True))
    refused = {
        "not sent": factories.message(ticket, direction="out", status="queued"),
        "a call": factories.message(ticket, type="call", body="📞 Voice call"),
        "deleted": factories.message(ticket, deleted_at=utcnow()),
        "a group member's kept without its member": factories.message(group),
    }
    theirs = factories.message(ticket, status="delivered")
    agent, program, reader = other_callers(app, factories, company)

    def react_as(headers, message: Message, emoji="👍"):
        return client.post(f"/api/messages/{message.id}/reactions", json={"emoji": emoji}, headers=headers)

    conflicts = {why: react_as(admin_headers, message) for why, message in refused.items()}
    hidden, unscoped = react_as(agent, theirs), react_as(reader, theirs)
    words = react_as(admin_headers, theirs, emoji="ok")
    too_long = react_as(admin_headers, theirs, emoji="👍" * 40)
    nothing_to_remove = react_as(admin_headers, theirs, emoji="")
    by_program = react_as(program, theirs, emoji="1️⃣")

    assert {why: answer.status_code for why, answer in conflicts.items()} == {why: 409 for why in refused}
    assert hidden.status_code == 404 and unscoped.status_code == 403
    assert words.status_code == too_long.status_code == 400 and "emoji" in words.get_json()["details"]
    assert words.get_json()["error"] == "validation_error"
    assert nothing_to_remove.status_code == 200 and nothing_to_remove.get_json()["reactions"] == []
    assert by_program.status_code == 200 and [r["emoji"] for r in by_program.get_json()["reactions"]] == ["1️⃣"]
    assert [m.actor_name for m in queued_on_session(broker, connection)] == [react_on_whatsapp.actor_name]


def test_the_simulated_reaction_api_checks_what_it_is_given(client, admin_headers, connection, redis_client):
    bad_emoji = client.post(f"/api/simulator/{connection.id}/react", headers=admin_headers,
                            json={"from": f"+{CUSTOMER}", "waId": "3EB0X", "emoji": "yes"})
    no_id = client.post(f"/api/simulator/{connection.id}/react", headers=admin_headers,
                        json={"from": f"+{CUSTOMER}", "emoji": "👍"})
    taken_back = client.post(f"/api/simulator/{connection.id}/react", headers=admin_headers,
                             json={"from": f"+{CUSTOMER}", "waId": "3EB0X", "emoji": ""})

    assert bad_emoji.status_code == 400 and "emoji" in bad_emoji.get_json()["details"]
    assert no_id.status_code == 400 and "waId" in no_id.get_json()["details"]
    assert taken_back.status_code == 202 and taken_back.get_json() == {"waId": "3EB0X", "from": f"+{CUSTOMER}"}
    assert simulator.reactions(redis_client, connection.id) == []  # no gateway runs: nothing reached the network
