"""Domain events: one call tells the realtime clients (Socket.IO) and the webhook subscribers.

Changes are announced with `Announcements` (`announcing()`): the webhook delivery rows commit with the
change, and the realtime events and the deliveries' first attempts go out once it has committed, so a
crash in between loses no delivery. `publish` writes and sends them after the commit, in one go: for
the events that a crash just before it cannot lose otherwise, or whose loss does no harm (an inbound
message's, pending until published; a connection's status, which its redelivered job publishes again;
a campaign's progress between ticks, which the next tick's supersedes). Neither fails the caller:
realtime is one Redis PUBLISH that never raises, webhooks are delivery rows and messages for
`deliver_webhook`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Collection, Iterator
from typing import Any

import redis

from db.base import database
from db.tickets import Ticket
from wharf.realtime import emit_event, emitted_together
from workers.webhooks import enqueue_delivery, fan_out, write_deliveries

logger = logging.getLogger(__name__)


def emit(event: str, company_id: int, data: dict[str, Any], ticket: Ticket | None, user_id: int | None) -> None:
    """A ticket's event reaches those who may see the ticket (its queue, or the agents who see unrouted pending
    tickets, its agent, supervisors);
    one with only `user_id` reaches that user; any other, the whole company (wharf/realtime.py)."""
    if ticket is not None:
        emit_event(event, data, company_id=company_id, ticket_id=ticket.id, queue_id=ticket.queue_id,
                   user_id=ticket.user_id, unrouted=ticket.queue_id is None and ticket.status == "pending")
    else:
        emit_event(event, data, company_id=company_id, user_id=user_id)


def numbers_of(ticket: Ticket | None, connection_ids: Collection[int]) -> Collection[int]:
    """The connections an event belongs to, for the webhooks of some numbers only: those given, else its ticket's
    (a message's and a flow session's are their ticket's); none for an event of no number (a contact's)."""
    if connection_ids or ticket is None or ticket.connection_id is None:
        return connection_ids
    return (ticket.connection_id,)


def publish(event: str, company_id: int, data: dict[str, Any], *, ticket: Ticket | None = None,
            user_id: int | None = None, connection_ids: Collection[int] = ()) -> None:
    """The event of a committed change, to its realtime clients and webhooks; `connection_ids`: the numbers it
    belongs to, when it has no ticket (a connection's status, a campaign's progress)."""
    emit(event, company_id, data, ticket, user_id)
    fan_out(company_id, event, data, numbers_of(ticket, connection_ids))


@dataclasses.dataclass
class Announcements:
    """The events of a change, made with it: `add`, inside the change's transaction, writes their webhook
    deliveries as rows of that transaction; `send`, once it has committed, publishes the realtime events
    (one round trip, or on the caller's pipeline) and enqueues the deliveries. A crash in between loses
    no delivery (`resend_lost_deliveries` sends them); the realtime events are lost, as any that a
    client not connected at the time misses."""

    realtime: list[tuple] = dataclasses.field(default_factory=list)
    deliveries: list[int] = dataclasses.field(default_factory=list)

    def add(self, event: str, company_id: int, data: dict[str, Any], *, ticket: Ticket | None = None,
            user_id: int | None = None, connection_ids: Collection[int] = ()) -> None:
        """As `publish`'s arguments."""
        self.realtime.append((event, company_id, data, ticket, user_id))
        self.deliveries += write_deliveries(company_id, event, data, numbers_of(ticket, connection_ids))

    def send(self, pipeline: redis.client.Pipeline | None = None) -> None:
        """Never raises, as `publish`: a delivery that could not be enqueued is the sweep's."""
        with emitted_together(pipeline):
            for announcement in self.realtime:
                emit(*announcement)
        try:
            for delivery_id in self.deliveries:
                enqueue_delivery(delivery_id)
        except Exception:
            logger.exception("webhook deliveries %s not enqueued; resend_lost_deliveries will", self.deliveries)


@contextlib.contextmanager
def announcing() -> Iterator[Announcements]:
    """A transaction, and the Announcements of its change (`add` them in the block): sent once it commits,
    dropped with it if the block raises."""
    announcements = Announcements()
    with database.atomic():
        yield announcements
    announcements.send()
