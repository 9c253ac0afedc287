"""Emitting realtime events to the Socket.IO clients from any process (API, workers, gateway).

An emit is one Redis PUBLISH on the channel the Socket.IO server (`api/realtime.py`) listens to;
the server delivers it to the connected clients of the rooms named in it. No Flask app is
needed, and a Redis failure is logged, never raised: a missed live update must not fail the
send or the receipt that caused it (clients re-read the REST API when they reconnect).

Who gets what (the rooms are joined by the server, see `api/realtime.py`):

- a ticket event (`ticket_id` given) goes to `ticket:{id}` (whoever joined that ticket),
  `company:{id}:supervisors` (the company's admins and supervisors, who see every ticket),
  `queue:{id}` when `queue_id` is given (the agents of that queue), `company:{id}:unrouted` for
  a pending ticket no queue took (the agents who see those) and `user:{id}` when `user_id` is
  given (say, the agent the ticket is assigned to). It does NOT go to the whole company room:
  agents see only the tickets of their queues and their own;
- any other event with a `user_id` is personal: it goes only to `user:{id}`;
- any other event (connection QR/ready/disconnected, user online/offline) goes to `company:{id}`,
  which every user of the company joins.

A client in several of those rooms receives the event once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import functools
import json
import logging
import threading
import uuid
from typing import Any

import redis
import socketio
from redis.connection import parse_url

from wharf.settings import settings


def channel_for(redis_url: str) -> str:
    """The Socket.IO channel of the Redis db in `redis_url`.

    Redis pub/sub ignores the db number: installations (or test runs) that share one Redis server
    in different dbs would receive each other's events on a common channel.
    """
    return f"wharf-socketio:db{parse_url(redis_url).get('db', 0)}"


CHANNEL = channel_for(settings.redis_url)

log = logging.getLogger(__name__)


def company_room(company_id: int) -> str:
    return f"company:{company_id}"


def supervisors_room(company_id: int) -> str:
    return f"company:{company_id}:supervisors"


def unrouted_room(company_id: int) -> str:
    """The agents who see the company's pending tickets that no queue took (`agents_see_unqueued_tickets`)."""
    return f"company:{company_id}:unrouted"


def queue_room(queue_id: int) -> str:
    return f"queue:{queue_id}"


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def rooms_for(company_id: int, ticket_id: int | None = None, user_id: int | None = None,
              queue_id: int | None = None, unrouted: bool = False) -> list[str]:
    """The rooms an event goes to (the rules in the module docstring)."""
    if ticket_id is not None:
        rooms = [ticket_room(ticket_id), supervisors_room(company_id)]
        if queue_id is not None:
            rooms.append(queue_room(queue_id))
        if unrouted:
            rooms.append(unrouted_room(company_id))
        if user_id is not None:
            rooms.append(user_room(user_id))
        return rooms
    if user_id is not None:
        return [user_room(user_id)]
    return [company_room(company_id)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _EventJson:
    """The JSON codec of the published message: datetimes (naive = UTC) become ISO 8601 strings."""

    loads = staticmethod(json.loads)

    @staticmethod
    def dumps(value: Any, **kwargs: Any) -> str:
        return json.dumps(value, default=_jsonable, **kwargs)


class _RedisManager(socketio.RedisManager):
    """Publishes each emit at once or, inside `emitted_together()`, the thread's emits in one pipeline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held = threading.local()

    def _publish(self, data: Any) -> None:
        held = getattr(self.held, "messages", None)
        if held is None:
            super()._publish(data)
        else:
            held.append(self.json.dumps(data))

    def publish_all(self, messages: list[str]) -> None:
        try:
            if not self.connected:
                self._redis_connect()
            with self.redis.pipeline(transaction=False) as pipe:
                for message in messages:
                    pipe.publish(self.channel, message)
                pipe.execute()
        except Exception:
            self.connected = False  # the next publish connects again
            log.exception("%d realtime events were not published", len(messages))


@functools.cache
def _manager() -> _RedisManager:
    # Short timeouts: a stalled Redis costs the caller at most two attempts of two seconds.
    return _RedisManager(
        settings.redis_url, channel=CHANNEL, write_only=True, logger=log, json=_EventJson,
        redis_options={"socket_timeout": 2, "socket_connect_timeout": 2, "health_check_interval": 30},
    )


def emit_event(event: str, data: dict[str, Any], *, company_id: int, ticket_id: int | None = None,
               user_id: int | None = None, queue_id: int | None = None, unrouted: bool = False) -> None:
    """Send `event` with `data` to the clients allowed to see it; never raises."""
    try:
        _manager().emit(event, data, room=rooms_for(company_id, ticket_id, user_id, queue_id, unrouted))
    except Exception:  # the manager logs Redis errors itself; this catches bad data and the unexpected
        log.exception("realtime event %s for company %s was not published", event, company_id)


@contextlib.contextmanager
def emitted_together(pipeline: redis.client.Pipeline | None = None):
    """The events this thread emits in the block are published at its end in one Redis round trip
    (an inbound batch's hundreds of events); never raises.

    Given a `pipeline` (of the same Redis), they are queued on it instead, to go with the caller's own
    commands (a send's enqueued marker, `workers.jobs.sending_tracked`) when the caller executes it."""
    manager = _manager()
    if getattr(manager.held, "messages", None) is not None:  # inside another such block: its end publishes
        yield
        return
    manager.held.messages = []
    try:
        yield
    finally:
        messages, manager.held.messages = manager.held.messages, None
        if pipeline is not None:
            for message in messages:
                pipeline.publish(manager.channel, message)
        elif messages:
            manager.publish_all(messages)
