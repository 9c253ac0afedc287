"""Closing a ticket as the product closes one, whoever closes it (an agent, a program, a macro, an automation rule, a
flow, the idle-ticket sweep)."""

from __future__ import annotations

import logging
from functools import partial

import dramatiq

from db.automations import companies_with_rules
from db.base import database
from db.tickets import Ticket
from workers.broker import broker
from workers.jobs import record_job, send_tracked
from workers.messages import Outbound, write_outbound
from workers.ratings import ask_for_rating
from workers.templating import render_template, ticket_variables

logger = logging.getLogger(__name__)


def close_with_farewell(ticket: Ticket, by_user_id: int | None, agent_name: str, send_farewell: bool) -> list[Outbound]:
    """In the caller's transaction: the ticket closed, with the connection's farewell (filled in for the ticket,
    `agent_name` its agent) and the rating question written, so that it is closed with them or not at all;
    `dispatch_outbounds` them after the commit."""
    connection = ticket.connection
    farewell = connection.farewell_message if send_farewell and connection is not None else ""
    if farewell:
        farewell = render_template(farewell, ticket_variables(ticket, agent_name))
    close_ticket(ticket, by_user_id)
    outbounds = [write_outbound(ticket, farewell, user_id=by_user_id)] if farewell else []
    return outbounds + list(filter(None, [ask_for_rating(ticket)]))


def close_ticket(ticket: Ticket, by_user_id: int | None) -> None:
    """In the caller's transaction: the ticket closed and, when its company has active `ticket_closed` automation
    rules, the job that runs them on this closing, written with it and sent once it commits (a message lost on the
    way is sent again from its job: `requeue_lost_jobs`)."""
    from workers.automations import run_closing_rules  # it closes tickets with this module in turn

    closing = ticket.close(by_user_id)
    if companies_with_rules([ticket.company_id], "ticket_closed"):
        _, message = record_job(run_closing_rules, closing.id, company_id=ticket.company_id)
        database.after_commit(partial(send_closing_rules, message))


def send_closing_rules(message: dramatiq.Message) -> None:
    """After the commit, which would take a failure here for its own: a message Redis did not take is logged, and
    its job sent again by `requeue_lost_jobs`."""
    try:
        send_tracked(broker, message)
    except Exception:
        logger.exception("the automation rules of closing %s were not enqueued; requeue_lost_jobs will", message.args)
