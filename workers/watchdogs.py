"""Watchdogs the scheduler fires: sessions that are dead or stuck, sends whose receipt never came.

A connection is flagged (`flagged_reason`, `flagged_at`, a `connection:unhealthy` event) when

- no gateway runs, or it says connected but no gateway holds its lease (its gateway died): it is
  marked disconnected until a gateway takes it over;
- it says connected but sends it took stay `sending` past `STUCK_SENDING_AFTER` (from their first
  attempt: a backlog still `queued` is not stuck): the session is a zombie; the gateway is asked to
  reconnect it (`reconnect_requested`);
- it has been disconnected past `DEAD_AFTER`: the session's own backoff has not brought it back.

A flag clears (`connection:healthy`) at the first check that finds nothing wrong. Sends still
`sent` `ACK_OVERDUE_AFTER` after sending are flagged once each (`message:ack_overdue`), and the
count per connection kept in Redis for the dashboard (scheduler/status.py).
"""

from __future__ import annotations

import datetime as dt
import logging

import dramatiq
from peewee import fn

from db.base import utcnow
from db.connections import Connection
from db.messages import Message
from wharf.redis_client import redis_client
from workers.events import announcing
from workers.gateway import HEARTBEAT_PREFIX
from workers.gateway.process import lease_key

logger = logging.getLogger(__name__)

STUCK_SENDING_AFTER = dt.timedelta(minutes=2)
DEAD_AFTER = dt.timedelta(minutes=10)
ACK_OVERDUE_AFTER = dt.timedelta(minutes=10)
OVERDUE_ACKS_KEY = "wharf:watchdog:overdue_acks"  # connection id → messages sent and not acknowledged in time
FLAG_BATCH = 1000


def connection_problem(
    connection: Connection,
    held: bool,
    gateways_running: bool,
    oldest_sending: dt.datetime | None,
    now: dt.datetime,
) -> str | None:
    """What is wrong with an enabled connection, in a sentence; None when nothing is.

    `held`: a gateway holds its lease. A running gateway takes a free lease within seconds, so a
    connection that is not held is only a problem when no gateway runs or it still says connected.
    """
    if not held and not gateways_running:
        return "no gateway is running"
    if not held and connection.status == "connected":
        return "no gateway holds the session (its gateway stopped or died)"
    if (
        connection.status == "connected"
        and oldest_sending is not None
        and oldest_sending < now - STUCK_SENDING_AFTER
    ):
        return f"says connected, but its sends have stayed 'sending' over {STUCK_SENDING_AFTER.seconds // 60} minutes"
    if (
        connection.status == "disconnected"
        and connection.last_seen_at
        and connection.last_seen_at < now - DEAD_AFTER
    ):
        return f"disconnected since {connection.last_seen_at.isoformat(timespec='seconds')}Z"
    return None


def oldest_sending_by_connection() -> dict[int, dt.datetime]:
    rows = (
        Message.select(Message.connection, fn.MIN(Message.sending_at).alias("oldest"))
        .where(Message.status == "sending")
        .group_by(Message.connection)
    )
    return {row.connection_id: row.oldest for row in rows}


def gateways_running() -> bool:
    return next(redis_client().scan_iter(match=HEARTBEAT_PREFIX + "*", count=100), None) is not None


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def check_connections() -> dict[str, int]:
    """Flag the unhealthy connections, clear the flags of healthy ones; running it twice changes nothing."""
    now = utcnow()
    oldest_sending = oldest_sending_by_connection()
    any_gateway = gateways_running()
    flagged = cleared = 0
    for connection in Connection.select().where(Connection.enabled):
        held = redis_client().exists(lease_key(connection.id)) > 0
        problem = connection_problem(connection, held, any_gateway, oldest_sending.get(connection.id), now)
        if problem is not None:
            flagged += flag_connection(connection, problem, now, held)
        elif connection.flagged_reason is not None:
            cleared += clear_flag(connection)
    return {"flagged": flagged, "cleared": cleared}


def flag_connection(connection: Connection, problem: str, now: dt.datetime, held: bool) -> int:
    """Flag it, once per problem: 1 if newly flagged, else 0.

    A connection that wrongly says connected becomes disconnected; a zombie session (held, stuck)
    is reconnected by its gateway, once per flag so a number is not reconnected over and over.
    """
    if connection.flagged_reason == problem:
        return 0
    fields = {Connection.flagged_reason: problem, Connection.flagged_at: now}
    if connection.status == "connected" and not held:
        fields |= {Connection.status: "disconnected", Connection.last_seen_at: now}
    elif connection.status == "connected":
        fields[Connection.reconnect_requested] = True
    with announcing() as announcements:
        updated = (
            Connection.update(fields)
            .where(
                Connection.id == connection.id,
                Connection.status == connection.status,
                Connection.flagged_reason.is_null() | (Connection.flagged_reason != problem),
            )
            .execute()
        )
        if updated:
            announcements.add("connection:unhealthy", connection.company_id,
                              {"connectionId": connection.id, "reason": problem}, connection_ids=(connection.id,))
    if updated:
        logger.warning("connection %s is unhealthy: %s", connection.id, problem)
    return updated


def clear_flag(connection: Connection) -> int:
    with announcing() as announcements:
        updated = (
            Connection.update(flagged_reason=None, flagged_at=None)
            .where(Connection.id == connection.id, Connection.flagged_reason.is_null(False))
            .execute()
        )
        if updated:
            announcements.add("connection:healthy", connection.company_id, {"connectionId": connection.id},
                              connection_ids=(connection.id,))
    return updated


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def flag_overdue_acks() -> dict[str, int]:
    """Flag, once each, the sends that got no receipt within ACK_OVERDUE_AFTER; count them per connection."""
    flagged = 0
    while True:
        with announcing() as announcements:
            rows = list(
                Message.update(ack_overdue=True)
                .where(
                    Message.id.in_(
                        Message.select(Message.id)
                        .where(
                            Message.status == "sent",
                            ~Message.ack_overdue,
                            Message.sent_at < utcnow() - ACK_OVERDUE_AFTER,
                        )
                        .limit(FLAG_BATCH)
                    )
                )
                .returning(Message.id, Message.company, Message.connection, Message.ticket, Message.wa_id)
                .execute()
            )
            for row in rows:
                announcements.add("message:ack_overdue", row.company_id, {
                    "id": row.id, "ticketId": row.ticket_id, "connectionId": row.connection_id, "waId": row.wa_id,
                }, connection_ids=(row.connection_id,))
        flagged += len(rows)
        if len(rows) < FLAG_BATCH:
            break
    overdue = overdue_acks_by_connection()
    pipe = redis_client().pipeline()
    pipe.delete(OVERDUE_ACKS_KEY)
    if overdue:
        pipe.hset(OVERDUE_ACKS_KEY, mapping=overdue)
    pipe.execute()
    if flagged:
        logger.warning("%d sent messages got no receipt within %s", flagged, ACK_OVERDUE_AFTER)
    return {"flagged": flagged, "overdue": sum(overdue.values())}


def overdue_acks_by_connection() -> dict[int, int]:
    rows = (
        Message.select(Message.connection, fn.COUNT(Message.id).alias("count"))
        .where(Message.status == "sent", Message.ack_overdue)
        .group_by(Message.connection)
    )
    return {row.connection_id: row.count for row in rows if row.connection_id is not None}
