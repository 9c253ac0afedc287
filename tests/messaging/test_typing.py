"""Typing both ways: an agent's, shown on the contact's phone through the connection's session
(workers/chat_actions.py), a message sent after "typing…" for a while (`typingMs`), and a contact's typing, shown to
the agents (workers/presence.py)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from db.base import utcnow
from db.connections import Connection
from db.messages import Message
from db.tickets import Ticket
from db.webhooks import WebhookDelivery
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)
from tests.waiting import wait_for
from tests.webhook_receiver import allow_loopback, serving
from workers.chat_actions import enqueue_on_session, show_typing
from workers.presence import opened_chats_key, show_contact_typing, watch_typing
from workers.transports import simulator
from workers.transports.base import ContactTyping


def test_a_typing_sign_that_waited_too_long_for_its_session_is_dropped(connection, redis_client, worker, gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    stale = (utcnow() - dt.timedelta(minutes=5)).isoformat()

    enqueue_on_session(show_typing, connection.id, "5511987654321", True, stale)
    enqueue_on_session(show_typing, connection.id, "5511900000000", True, utcnow().isoformat())

    assert wait_for(lambda: "5511900000000" in simulator.typing(redis_client, connection.id), timeout=20)
    assert "5511987654321" not in simulator.typing(redis_client, connection.id)  # the queue runs in order


def test_a_message_sent_with_typing_shows_typing_then_arrives_and_takes_it_away(
        client, admin_headers, factories, connection, redis_client, worker, gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    ticket = factories.ticket(connection.company, connection=connection, status="open",
                              contact=factories.contact(connection.company, phone="+5511987654321"))
    sent_at = time.monotonic()

    answer = client.post("/api/messages", headers=admin_headers,
                         json={"ticketId": ticket.id, "body": "Deixa eu ver…", "typingMs": 1500})

    assert answer.status_code == 202, answer.get_json()
    assert wait_for(lambda: simulator.typing(redis_client, connection.id).get("5511987654321", {}).get("typing"),
                    timeout=10)
    outbox_then = simulator.outbox(redis_client, connection.id)[1]
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=10)
    assert outbox_then == 0 and time.monotonic() - sent_at >= 1.5  # typing first, the message after it
    assert "5511987654321" not in simulator.typing(redis_client, connection.id)  # the message took it away
    assert wait_for(lambda: Message.get_by_id(answer.get_json()["id"]).status in ("sent", "delivered", "read"))


@pytest.mark.parametrize("typing_ms", [-1, 20_001, "1500"])
def test_typing_before_a_message_is_up_to_twenty_seconds(client, admin_headers, factories, connection, typing_ms):
    ticket = factories.ticket(connection.company, connection=connection, status="open")

    answer = client.post("/api/messages", headers=admin_headers,
                         json={"ticketId": ticket.id, "body": "oi", "typingMs": typing_ms})

    assert answer.status_code == 400 and list(answer.get_json()["details"]) == ["typingMs"]
    assert Message.select().count() == 0


def test_the_simulator_shows_what_each_contact_sees(client, admin_headers, connection, redis_client):
    redis_client.hset(simulator.key(connection.id, "typing"), "5511987654321", '{"typing": true, "at": 0}')
    redis_client.hset(simulator.key(connection.id, "typing"), "5511912345678",
                      '{"typing": true, "recording": true, "at": 0}')

    answer = client.get(f"/api/simulator/{connection.id}/typing", headers=admin_headers).get_json()

    assert answer == {"items": [
        {"contact": "+5511912345678", "typing": True, "recording": True, "at": "1970-01-01T00:00:00.000Z"},
        {"contact": "+5511987654321", "typing": True, "recording": False, "at": "1970-01-01T00:00:00.000Z"}]}


def test_a_contacts_typing_that_waited_too_long_or_has_no_live_ticket_reaches_no_one(factories, connection):
    contact = factories.contact(connection.company, phone="+5511987654321")
    factories.ticket(connection.company, connection=connection, contact=contact, status="closed")

    def typing(at: float) -> ContactTyping:
        return ContactTyping(connection.id, chat="5511987654321", sender="5511987654321", typing=True, timestamp=at)

    stale = show_contact_typing(typing(time.time() - 60))
    closed = show_contact_typing(typing(time.time()))
    live = factories.ticket(connection.company, connection=connection, contact=contact, status="pending")
    shown = show_contact_typing(typing(time.time()))

    assert (stale, closed) == ({"skipped": "stale"}, {"skipped": "no live ticket"})
    assert shown == {"ticketId": live.id, "typing": True}


def test_a_new_session_watches_again_the_chats_agents_opened_within_the_hour(connection, redis_client, worker,
                                                                            gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    watch_typing(connection.id, ["5511987654321"])
    redis_client.zadd(opened_chats_key(connection.id), {"5511900000001": time.time() - 2 * 3600})  # long ago
    assert wait_for(lambda: simulator.watches(redis_client, connection.id, "+5511987654321"), timeout=10)

    simulator.push_command(redis_client, connection.id, "disconnect")  # a new session forgets what the last watched

    assert wait_for(lambda: Connection.get_by_id(connection.id).reconnects == 1, timeout=20)
    assert wait_for(lambda: simulator.watches(redis_client, connection.id, "+5511987654321"), timeout=20)
    assert not simulator.watches(redis_client, connection.id, "+5511900000001")


def test_a_simulated_contact_types_through_the_api(client, admin_headers, connection, redis_client):
    redis_client.sadd(simulator.key(connection.id, "watched"), "5511987654321")

    watched = client.post(f"/api/simulator/{connection.id}/contact-typing", headers=admin_headers,
                          json={"from": "+5511987654321", "typing": True, "recording": True})
    unwatched = client.post(f"/api/simulator/{connection.id}/contact-typing", headers=admin_headers,
                            json={"from": "+5511912345678", "typing": False, "recording": True})
    refused = client.post(f"/api/simulator/{connection.id}/contact-typing", headers=admin_headers,
                          json={"from": "+5511912345678", "typing": "yes"})

    assert (watched.status_code, watched.get_json()) == (202, {"from": "+5511987654321", "typing": True,
                                                                "recording": True, "watched": True})
    assert unwatched.get_json() == {"from": "+5511912345678", "typing": False, "recording": False, "watched": False}
    assert refused.status_code == 400 and list(refused.get_json()["details"]) == ["typing"]
    commands = [json.loads(raw) for raw in redis_client.lrange(simulator.key(connection.id, "commands"), 0, -1)]
    assert [(command["op"], command["phone"]) for command in reversed(commands)] == [
        ("contact_typing", "5511987654321"), ("contact_typing", "5511912345678")]


def test_a_program_shows_typing_for_a_while_and_the_agents_see_who(client, admin_headers, factories, connection,
                                                                  redis_client, worker, gateway, realtime):  # noqa: F811
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    ticket = factories.ticket(connection.company, connection=connection, status="open",
                              contact=factories.contact(connection.company, phone="+5511987654321"))
    key = client.post("/api/api-keys", json={"name": "bot", "scopes": ["messages:send"]},
                      headers=admin_headers).get_json()
    asked_at = time.monotonic()

    answer = client.post(f"/api/tickets/{ticket.id}/typing", json={"durationMs": 1500},
                         headers={"X-API-Key": key["key"]})

    assert answer.status_code == 202, answer.get_json()
    shown = answer.get_json()
    assert (shown["ticketId"], shown["typing"], shown["recording"]) == (ticket.id, True, False)
    seen = lambda: simulator.typing(redis_client, connection.id).get("5511987654321", {})  # noqa: E731
    assert wait_for(lambda: seen().get("typing"), timeout=10)
    assert wait_for(lambda: seen().get("typing") is False, timeout=10)
    assert time.monotonic() - asked_at >= 1.5  # stopped by itself, when it said
    typing_events = [data for event, data in realtime() if event == "typing"]
    assert typing_events == [{"ticketId": ticket.id, "userId": None, "name": f"API key 'bot' ({key['prefix']})",
                              "typing": True, "recording": False, "until": shown["until"]}]


def test_an_agent_stops_typing_now_or_records_audio(client, admin_headers, factories, connection, redis_client,
                                                     worker, gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    ticket = factories.ticket(connection.company, connection=connection, status="open",
                              contact=factories.contact(connection.company, phone="+5511987654321"))
    seen = lambda: simulator.typing(redis_client, connection.id).get("5511987654321", {})  # noqa: E731

    recording = client.post(f"/api/tickets/{ticket.id}/typing", json={"recording": True}, headers=admin_headers)
    assert recording.status_code == 202 and recording.get_json()["until"] is None
    assert wait_for(lambda: seen().get("recording"), timeout=10)

    client.post(f"/api/tickets/{ticket.id}/typing", json={"typing": False}, headers=admin_headers)
    assert wait_for(lambda: seen().get("typing") is False, timeout=10)


def test_typing_is_refused_where_it_cannot_show(client, admin_headers, factories, connection, redis_client):
    closed = factories.ticket(connection.company, connection=connection, status="closed")
    group = factories.ticket(connection.company, connection=connection, status="open", is_group=True,
                             contact=factories.contact(connection.company, phone="120363012345678901@g.us",
                                                       is_group=True))
    live = factories.ticket(connection.company, connection=connection, status="open")

    assert client.post(f"/api/tickets/{closed.id}/typing", json={}, headers=admin_headers).status_code == 409
    assert client.post(f"/api/tickets/{group.id}/typing", json={}, headers=admin_headers).status_code == 409
    both = client.post(f"/api/tickets/{live.id}/typing", json={"typing": False, "durationMs": 100},
                       headers=admin_headers)
    assert both.status_code == 400 and "durationMs is for typing: true" in str(both.get_json()["details"])
    too_long = client.post(f"/api/tickets/{live.id}/typing", json={"durationMs": 20_001}, headers=admin_headers)
    assert too_long.status_code == 400 and list(too_long.get_json()["details"]) == ["durationMs"]
    assert client.post("/api/tickets/999999/typing", json={}, headers=admin_headers).status_code == 404
    assert redis_client.llen(f"dramatiq:gw.{connection.id}") == 0  # nothing was queued


def test_a_webhook_that_names_contact_typing_hears_the_contacts_who_write_type(
        client, admin_headers, factories, connection, redis_client, worker, gateway, monkeypatch):
    allow_loopback(monkeypatch)
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    with serving() as receiver:
        named = factories.webhook(connection.company, url=f"{receiver.url}/named", events=["contact:typing"],
                                  connection_ids=[connection.id])
        factories.webhook(connection.company, url=f"{receiver.url}/everything", events=["*", "contact:*"])
        client.post(f"/api/simulator/{connection.id}/inbound", json={"from": "+5511987654321", "body": "oi"},
                    headers=admin_headers)
        assert wait_for(lambda: simulator.watches(redis_client, connection.id, "+5511987654321"), timeout=20)

        client.post(f"/api/simulator/{connection.id}/contact-typing", headers=admin_headers,
                    json={"from": "+5511987654321", "typing": True})

        typing = lambda: [json.loads(r.body) for r in receiver.received if json.loads(r.body)["event"] == "contact:typing"]  # noqa: E501, E731
        assert wait_for(lambda: typing(), timeout=20)
        worker.join()
        paths = {r.path for r in receiver.received if json.loads(r.body)["event"] == "contact:typing"}
    [heard] = typing()
    ticket = Ticket.get()
    assert {path.rsplit("/", 1)[1] for path in paths} == {"named"}  # not to `*` nor `contact:*`
    assert {key: heard["data"][key] for key in ("ticketId", "contactId", "from", "typing", "recording")} == {
        "ticketId": ticket.id, "contactId": ticket.contact_id, "from": "+5511987654321", "typing": True,
        "recording": False}
    assert WebhookDelivery.get(WebhookDelivery.event == "contact:typing").webhook_id == named.id


def test_a_number_always_online_shows_so_from_its_session_s_start_and_a_change_shows_at_once(
        client, admin_headers, connection, redis_client, worker, gateway):
    answer = client.patch(f"/api/connections/{connection.id}", json={"alwaysOnline": True}, headers=admin_headers)
    assert answer.status_code == 200 and answer.get_json()["alwaysOnline"] is True
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    assert wait_for(lambda: simulator.shows_online(redis_client, connection.id), timeout=20)

    client.patch(f"/api/connections/{connection.id}", json={"alwaysOnline": False}, headers=admin_headers)

    assert wait_for(lambda: not simulator.shows_online(redis_client, connection.id), timeout=20)


def test_with_no_webhook_naming_it_the_contacts_who_write_are_not_watched(client, admin_headers, factories, connection,
                                                                         redis_client, worker, gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    factories.webhook(connection.company, events=["*"])
    client.post(f"/api/simulator/{connection.id}/inbound", json={"from": "+5511987654321", "body": "oi"},
                headers=admin_headers)
    assert wait_for(lambda: Ticket.select().exists(), timeout=20)
    worker.join()

    assert not simulator.watches(redis_client, connection.id, "+5511987654321")
