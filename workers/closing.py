"""Closing a ticket as the product closes one, whoever closes it (an agent, a program, a macro, an automation rule)."""

from __future__ import annotations

from db.tickets import Ticket
from workers.messages import Outbound, write_outbound
from workers.ratings import ask_for_rating
from workers.templating import render_template, ticket_variables


def close_with_farewell(ticket: Ticket, by_user_id: int | None, agent_name: str, send_farewell: bool) -> list[Outbound]:
    """In the caller's transaction: the ticket closed, with the connection's farewell (filled in for the ticket,
    `agent_name` its agent) and the rating question written, so that it is closed with them or not at all;
    `dispatch_outbounds` them after the commit."""
    connection = ticket.connection
    farewell = connection.farewell_message if send_farewell and connection is not None else ""
    if farewell:
        farewell = render_template(farewell, ticket_variables(ticket, agent_name))
    ticket.close(by_user_id)
    outbounds = [write_outbound(ticket, farewell, user_id=by_user_id)] if farewell else []
    return outbounds + list(filter(None, [ask_for_rating(ticket)]))
