"""Custom fields of tickets, as Chatwoot's conversation attributes (an order number, what the contact wants...), under
`/api/ticket-fields` (api/field_definitions.py): their values live in `Ticket.custom_fields`, set by
`PATCH /api/tickets/:id {customFields}`; programs read them with `tickets:read` and manage them with `tickets:write`."""

from __future__ import annotations

from api.field_definitions import FieldDefinitions
from db.tickets import Ticket, TicketField

TICKET_FIELDS = FieldDefinitions(TicketField, Ticket, "ticket",
                                 frozenset({"id", "status", "priority", "tags", "queue", "user", "contact"}),
                                 "tickets:read", "tickets:write")
blueprint = TICKET_FIELDS.blueprint("ticket_fields", "/api/ticket-fields")
