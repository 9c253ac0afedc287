"""Domain events: one call tells the realtime clients (Socket.IO) and the webhook subscribers.

Called from the API, actors and the gateway after the change is committed. Neither path fails
the caller: realtime is one Redis PUBLISH that never raises, webhooks are delivery rows and
messages for `deliver_webhook`.
"""

from __future__ import annotations

from typing import Any

from db.tickets import Ticket
from wharf.realtime import emit_event
from workers.webhooks import fan_out


def publish(event: str, company_id: int, data: dict[str, Any], *, ticket: Ticket | None = None,
            user_id: int | None = None) -> None:
    """A ticket's event reaches those who may see the ticket (its queue, its agent, supervisors);
    one with only `user_id` reaches that user; any other, the whole company (wharf/realtime.py)."""
    if ticket is not None:
        emit_event(event, data, company_id=company_id, ticket_id=ticket.id, queue_id=ticket.queue_id,
                   user_id=ticket.user_id)
    else:
        emit_event(event, data, company_id=company_id, user_id=user_id)
    fan_out(company_id, event, data)
