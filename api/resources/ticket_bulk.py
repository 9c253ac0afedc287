"""Bulk ticket actions, as Chatwoot's: one action on up to 100 tickets at once (the pending ones after a campaign).

Each ticket is acted on as its own endpoint acts on it (the action's `TicketWork`, api/resources/tickets.py):
the caller must see it, the same 409s, history and `ticket:update`, all in a transaction of its own; so a
ticket that fails undoes and stops none of the others, and the answer says which were done and why the others
were not. What the body names besides the tickets (an agent, a queue, tags) is checked once, before any ticket:
a 400 or 404 there leaves them all as they were.

Synchronous, not a job: a ticket costs a few queries, and what talks to WhatsApp (a close's farewell and rating
question, a read's blue ticks) is enqueued as the single action enqueues it, so 100 tickets fit in a request,
and the caller gets the outcome without polling a job. A failure nobody foresaw on one ticket is a 500 of that
ticket in `failed`, not of the request.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Literal

from flask import Blueprint
from pydantic import Field, ValidationError

from api.endpoint import endpoint, validation_details
from api.errors import ApiError, NotFound, ValidationFailed
from api.resources.tickets import (
    WRITE_SCOPE,
    AssignIn,
    CloseIn,
    SlaIn,
    SnoozeIn,
    TagsIn,
    TicketWork,
    TransferIn,
    accepting,
    closing,
    fields_setting,
    prioritising,
    read_ticket,
    reopening,
    sla_applying,
    snoozing,
    tagging,
    transferring,
    unread_ticket,
    unsnooze,
)
from api.schemas import OutSchema, Schema
from api.scoping import visible_tickets
from api.ticket_json import Priority
from db.tickets import Ticket

logger = logging.getLogger(__name__)
blueprint = Blueprint("ticket_bulk", __name__)
MOST_TICKETS = 100


class NoFieldsIn(Schema):
    """The body of an action that takes no fields."""


class PriorityIn(Schema):
    priority: Priority | None = Field(description="null clears it")  # required: the action is to set it


class FieldsIn(Schema):
    custom_fields: dict[str, Any] = Field(min_length=1)  # required: the action is to set them


# Each action: the fields it takes, as its endpoint takes them, and the TicketWork it makes of them
ACTIONS: dict[str, tuple[type[Schema], Callable[[Any], TicketWork]]] = {
    "accept": (AssignIn, accepting),
    "transfer": (TransferIn, transferring),
    "close": (CloseIn, closing),
    "reopen": (AssignIn, reopening),
    "read": (NoFieldsIn, lambda _: read_ticket),
    "unread": (NoFieldsIn, lambda _: unread_ticket),
    "snooze": (SnoozeIn, snoozing),
    "unsnooze": (NoFieldsIn, lambda _: unsnooze),
    "priority": (PriorityIn, lambda body: prioritising(body.priority)),
    "tags": (TagsIn, tagging),
    "sla": (SlaIn, sla_applying),
    "custom_fields": (FieldsIn, lambda body: fields_setting(body.custom_fields)),
}


class TicketBulkIn(Schema):
    """The tickets, the action, and the action's fields (its own schema checks them: `action_body`)."""

    ticket_ids: list[int] = Field(min_length=1, max_length=MOST_TICKETS, description="an id given twice counts once")
    action: Literal[tuple(ACTIONS)]  # type: ignore[valid-type]
    user_id: int | None = Field(None, description="accept, reopen: the agent who gets the tickets (a program must "
                                                  "name one); transfer: the agent they go to")
    queue_id: int | None = Field(None, description="transfer: the queue they go to")
    note: str | None = Field(None, description="transfer: a note left on each ticket")
    send_farewell: bool | None = Field(None, description="close: send the connection's farewell (default true)")
    until: dt.datetime | None = Field(None, description="snooze: when they wake, in the next 90 days; not given or "
                                                        "null: when the contact writes")
    priority: Priority | None = Field(None, description="priority (required): low to urgent, null for none")
    tag_ids: list[int] | None = Field(None, description="tags (required): the tickets' tags, replacing theirs")
    sla_policy_id: int | None = Field(None, description="sla (required; admins, supervisors, programs): the SLA "
                                                        "policy the tickets must meet, null for none")
    custom_fields: dict[str, Any] | None = Field(None, description="custom_fields (required): the tickets' own fields "
                                                 "to set, as PATCH /api/tickets/:id sets them")

    def action_body(self) -> Schema:
        """The fields sent for the action, as its endpoint takes them: a 400 names one it needs, refuses or does
        not take."""
        schema = ACTIONS[self.action][0]
        fields = self.model_dump(by_alias=True, exclude_unset=True, exclude={"ticket_ids", "action"})
        try:
            return schema.model_validate(fields)
        except ValidationError as error:
            raise ValidationFailed(f"the body has invalid fields for {self.action}",
                                   validation_details(error)) from None


class TicketBulkFailure(OutSchema):
    ticket_id: int
    error: str = Field(description="as an error's `error`: not_found (no such ticket, or not one you see), "
                                   "conflict...")
    message: str
    status_code: int = Field(description="what the ticket's own endpoint would have answered")


class TicketBulkOut(OutSchema):
    done: list[int]
    failed: list[TicketBulkFailure]


@blueprint.post("/api/tickets/bulk")
@endpoint(summary="One action (accept, transfer, close, reopen, read, snooze, unsnooze, priority, tags, sla) on up to "
                  "100 tickets, each as its own endpoint acts on it: `done` lists those it changed (or found "
                  "so already), `failed` the others with why", tags=["tickets"], body=TicketBulkIn, response=TicketBulkOut,
          errors=[403, 404], scope=WRITE_SCOPE)
def act_on_tickets(body: TicketBulkIn):
    work = ACTIONS[body.action][1](body.action_body())
    ticket_ids = list(dict.fromkeys(body.ticket_ids))
    tickets = {ticket.id: ticket for ticket in visible_tickets().where(Ticket.id.in_(ticket_ids))}
    done, failed = [], []
    for ticket_id in ticket_ids:
        error = outcome(work, tickets[ticket_id]) if ticket_id in tickets else NotFound("ticket")
        if error is None:
            done.append(ticket_id)
        else:
            failed.append(TicketBulkFailure(ticket_id=ticket_id, error=error.code, message=error.message,
                                            status_code=error.status))
    return TicketBulkOut(done=done, failed=failed)


def outcome(work: TicketWork, ticket: Ticket) -> ApiError | None:
    """Why the work failed on one ticket of many, None when it was done. A failure nobody foresaw is logged and told
    as a 500 of that ticket alone (its transaction rolled back), so that the others' outcomes are still told."""
    try:
        work(ticket)
    except ApiError as error:
        return error
    except Exception:
        logger.exception("ticket %s: the action failed", ticket.id)
        return ApiError(500, "something went wrong on our side; it has been logged")
    return None
