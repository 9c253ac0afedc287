"""Read receipts to contacts: the blue ticks a contact sees when an agent has read their messages.

They go on the connection's own send queue (`gateway_queue`), since only the gateway holding its session
can send them; the gateway runs them beside the sends (`SendConsumer`). They are enqueued in the
transaction that marks the messages read, before it commits: a receipt whose change then rolls back
only tells the contact what an agent did see, and one that is sent twice marks read what already is.
"""

from __future__ import annotations

import dramatiq

from workers.messages import SessionUnavailable, gateway_queue
from workers.transports.base import TransportError


@dramatiq.actor(queue_name="gateway", max_retries=5, min_backoff=1000, max_backoff=60_000, time_limit=60_000)
def send_read_receipts(connection_id: int, chat: str, wa_ids: list[str]) -> None:
    """Mark the contact's messages read on the session of their connection."""
    from workers.gateway.sessions import registry

    session = registry.get(connection_id)
    if session is None:
        raise SessionUnavailable(f"no live session for connection {connection_id} in this gateway")
    try:
        session.mark_read(chat, wa_ids)
    except TransportError as error:
        if not error.permanent:
            raise


def enqueue_read_receipts(connection_id: int, chat: str, wa_ids: list[str]) -> None:
    """Queue the receipts of a contact's messages (in digits, `chat`) on their connection's session."""
    if wa_ids:
        message = send_read_receipts.message(connection_id, chat, wa_ids)
        send_read_receipts.broker.enqueue(message.copy(queue_name=gateway_queue(connection_id)))
