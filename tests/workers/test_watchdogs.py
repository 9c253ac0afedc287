"""The scheduler's watchdogs: dead and stuck sessions flagged (and reconnected), overdue receipts flagged."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from db.base import utcnow
from db.connections import Connection
from db.messages import Message
from scheduler.status import overdue_acks
from tests.waiting import wait_for
from wharf.realtime import CHANNEL
from workers.gateway import HEARTBEAT_PREFIX
from workers.gateway.process import lease_key
from workers.watchdogs import check_connections, flag_overdue_acks


@pytest.fixture
def events(redis_client):
    """The names and data of the realtime events published while the test runs, as a callable."""
    pubsub = redis_client.pubsub()
    pubsub.subscribe(CHANNEL)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"  # listening before the test acts
    heard: list[tuple[str, dict]] = []

    def drain() -> list[tuple[str, dict]]:
        while (message := pubsub.get_message(timeout=0.2)) is not None:
            item = json.loads(message["data"])
            heard.append((item["event"], item["data"][0]))  # Socket.IO sends the arguments as a list
        return heard

    yield drain
    pubsub.close()


def a_running_gateway_holding(redis_client, connection: Connection) -> None:
    redis_client.set(HEARTBEAT_PREFIX + "test-gateway", str(connection.id), ex=60)
    redis_client.set(lease_key(connection.id), "test-gateway", px=60_000)


def message(factories, connection: Connection, status: str, age: dt.timedelta, **fields) -> Message:
    """An outbound message `age` old; one `sending` was taken by the gateway as soon as it was queued."""
    ticket = factories.ticket(connection.company, connection=connection)
    created_at = utcnow() - age
    return Message.create(
        company=connection.company,
        ticket=ticket,
        connection=connection,
        contact=ticket.contact,
        direction="out",
        status=status,
        created_at=created_at,
        sending_at=created_at if status == "sending" else None,
        wa_id=uuid.uuid4().hex,
        **fields,
    )


def test_a_connection_that_says_connected_with_no_gateway_is_flagged_once_and_marked_disconnected(
    factories, redis_client, events
):
    connection = factories.connection(factories.company(), enabled=True, status="connected")

    first, again = check_connections(), check_connections()

    connection = Connection.get_by_id(connection.id)
    assert (first, again) == ({"flagged": 1, "cleared": 0}, {"flagged": 0, "cleared": 0})
    assert connection.status == "disconnected" and connection.flagged_reason == "no gateway is running"
    assert [name for name, _ in events()] == ["connection:unhealthy"]


def test_a_held_session_whose_sends_stay_sending_is_flagged_and_reconnected_then_cleared(
    factories, redis_client, events
):
    connection = factories.connection(factories.company(), enabled=True, status="connected")
    a_running_gateway_holding(redis_client, connection)
    stuck = message(factories, connection, "sending", dt.timedelta(minutes=3))
    message(factories, connection, "sending", dt.timedelta(seconds=30))

    assert check_connections() == {"flagged": 1, "cleared": 0}
    flagged = Connection.get_by_id(connection.id)
    assert flagged.status == "connected" and flagged.reconnect_requested
    assert "'sending'" in flagged.flagged_reason

    Message.update(status="sent").where(Message.id == stuck.id).execute()
    assert check_connections() == {"flagged": 0, "cleared": 1}
    assert Connection.get_by_id(connection.id).flagged_reason is None
    assert [(name, data["connectionId"]) for name, data in events()] == [
        ("connection:unhealthy", connection.id),
        ("connection:healthy", connection.id),
    ]


def test_a_backlog_queued_long_ago_and_taken_just_now_is_not_stuck(factories, redis_client, events):
    connection = factories.connection(factories.company(), enabled=True, status="connected")
    a_running_gateway_holding(redis_client, connection)
    message(factories, connection, "queued", dt.timedelta(minutes=30))
    taken = message(factories, connection, "queued", dt.timedelta(minutes=30))
    Message.update(status="sending", sending_at=utcnow()).where(Message.id == taken.id).execute()

    assert check_connections() == {"flagged": 0, "cleared": 0}
    assert Connection.get_by_id(connection.id).flagged_reason is None


def test_a_healthy_held_connection_and_a_fresh_disconnect_are_left_alone(factories, redis_client, events):
    company = factories.company()
    healthy = factories.connection(company, enabled=True, status="connected")
    a_running_gateway_holding(redis_client, healthy)
    message(factories, healthy, "sending", dt.timedelta(seconds=30))
    reconnecting = factories.connection(company, enabled=True, status="disconnected", last_seen_at=utcnow())
    a_running_gateway_holding(redis_client, reconnecting)
    dead = factories.connection(
        company, enabled=True, status="disconnected", last_seen_at=utcnow() - dt.timedelta(hours=1)
    )
    a_running_gateway_holding(redis_client, dead)

    assert check_connections() == {"flagged": 1, "cleared": 0}
    assert Connection.get_by_id(healthy.id).flagged_reason is None
    assert Connection.get_by_id(reconnecting.id).flagged_reason is None
    assert Connection.get_by_id(dead.id).flagged_reason.startswith("disconnected since")


def test_the_gateway_reconnects_a_session_the_watchdog_asked_it_to(factories, redis_client, gateway):
    connection = factories.connection(factories.company(), enabled=True)
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "starting", timeout=10)
    assert wait_for(lambda: gateway.sessions.get(connection.id) is not None, timeout=10)
    first_session = gateway.sessions.get(connection.id)

    Connection.update(reconnect_requested=True).where(Connection.id == connection.id).execute()

    assert wait_for(lambda: not Connection.get_by_id(connection.id).reconnect_requested, timeout=10)
    assert wait_for(lambda: gateway.sessions.get(connection.id) not in (None, first_session), timeout=10)
    assert first_session.stopping.is_set()


def test_sends_without_a_receipt_past_the_threshold_are_flagged_once_and_counted(
    factories, redis_client, events
):
    connection = factories.connection(factories.company(), enabled=True, status="connected")
    long_ago = utcnow() - dt.timedelta(minutes=11)
    overdue = message(factories, connection, "sent", dt.timedelta(minutes=11), sent_at=long_ago)
    message(
        factories, connection, "sent", dt.timedelta(minutes=1), sent_at=utcnow() - dt.timedelta(minutes=1)
    )
    message(
        factories, connection, "delivered", dt.timedelta(minutes=11), sent_at=long_ago, delivered_at=long_ago
    )

    first, again = flag_overdue_acks(), flag_overdue_acks()

    assert first == {"flagged": 1, "overdue": 1} and again == {"flagged": 0, "overdue": 1}
    assert [m.id for m in Message.select().where(Message.ack_overdue)] == [overdue.id]
    assert overdue_acks() == {connection.id: 1}
    assert [(name, data["id"]) for name, data in events()] == [("message:ack_overdue", overdue.id)]

    Message.update(status="delivered").where(Message.id == overdue.id).execute()  # the receipt came late
    assert flag_overdue_acks() == {"flagged": 0, "overdue": 0}
    assert overdue_acks() == {}
