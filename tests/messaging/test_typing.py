"""An agent's typing, shown on the contact's phone through the connection's session (workers/chat_actions.py)."""

from __future__ import annotations

import datetime as dt

from db.base import utcnow
from db.connections import Connection
from tests.waiting import wait_for
from workers.chat_actions import enqueue_on_session, show_typing
from workers.transports import simulator


def test_a_typing_sign_that_waited_too_long_for_its_session_is_dropped(connection, redis_client, worker, gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    stale = (utcnow() - dt.timedelta(minutes=5)).isoformat()

    enqueue_on_session(show_typing, connection.id, "5511987654321", True, stale)
    enqueue_on_session(show_typing, connection.id, "5511900000000", True, utcnow().isoformat())

    assert wait_for(lambda: "5511900000000" in simulator.typing(redis_client, connection.id), timeout=20)
    assert "5511987654321" not in simulator.typing(redis_client, connection.id)  # the queue runs in order


def test_the_simulator_shows_what_each_contact_sees(client, admin_headers, connection, redis_client):
    redis_client.hset(simulator.key(connection.id, "typing"), "5511987654321", '{"typing": true, "at": 0}')
    redis_client.hset(simulator.key(connection.id, "typing"), "5511912345678",
                      '{"typing": true, "recording": true, "at": 0}')

    answer = client.get(f"/api/simulator/{connection.id}/typing", headers=admin_headers).get_json()

    assert answer == {"items": [
        {"contact": "+5511912345678", "typing": True, "recording": True, "at": "1970-01-01T00:00:00.000Z"},
        {"contact": "+5511987654321", "typing": True, "recording": False, "at": "1970-01-01T00:00:00.000Z"}]}
