"""What an agent does to a conversation on WhatsApp besides sending: read receipts (the contact's blue ticks)
and deleting our messages for everyone.

They go on the connection's own send queue (`gateway_queue`), since only the gateway holding its session
can do them; the gateway runs them after the sends of the same batch (`SendConsumer`), so a deletion never
overtakes its message. They are enqueued in the transaction of the change, before it commits: one whose
change then rolls back only does what the agent asked for, and either done twice changes nothing more.
A refusal for good (a message too old to delete, say) is logged, not retried.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import dramatiq

from db.contacts import Contact
from db.messages import Message
from workers.messages import SessionUnavailable, gateway_queue
from workers.transports.base import TransportError

logger = logging.getLogger(__name__)
SENT = ("sent", "delivered", "read")
OPTIONS = {"queue_name": "gateway", "max_retries": 5, "min_backoff": 1000, "max_backoff": 60_000, "time_limit": 60_000}


@contextlib.contextmanager
def on_session(connection_id: int) -> Iterator:
    """The connection's session in this gateway (else SessionUnavailable, to retry where it is)."""
    from workers.gateway.sessions import registry

    session = registry.get(connection_id)
    if session is None:
        raise SessionUnavailable(f"no live session for connection {connection_id} in this gateway")
    try:
        yield session
    except TransportError as error:
        if not error.permanent:
            raise
        logger.info("connection %s: WhatsApp refused for good: %s", connection_id, error)


@dramatiq.actor(**OPTIONS)
def send_read_receipts(connection_id: int, chat: str, wa_ids: list[str]) -> None:
    """Mark the contact's messages read."""
    with on_session(connection_id) as session:
        session.mark_read(chat, wa_ids)


class DeletionNotCommitted(Exception):
    """The deletion is not committed yet (or was rolled back): its retry looks again."""


@dramatiq.actor(**OPTIONS)
def revoke_message(connection_id: int, message_id: int) -> None:
    """Delete our message for everyone in the contact's chat, if it went out: one deleted before that is
    failed by the send instead (`send_messages`), which comes first on the queue."""
    message = Message.select(Message, Contact).join(Contact).where(Message.id == message_id).first()
    if message is None or message.status not in SENT or not message.wa_id:
        return
    if message.deleted_at is None:
        raise DeletionNotCommitted(f"message {message_id} is not deleted (yet)")
    with on_session(connection_id) as session:
        session.revoke(message.contact.phone.lstrip("+"), message.wa_id)


def enqueue_on_session(actor: dramatiq.Actor, connection_id: int, *args) -> None:
    """Queue `actor(connection_id, *args)` on the connection's send queue."""
    actor.broker.enqueue(actor.message(connection_id, *args).copy(queue_name=gateway_queue(connection_id)))
