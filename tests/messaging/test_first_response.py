"""A ticket's first response is the first answer an agent sent to a contact who wrote first."""

from __future__ import annotations

import datetime as dt

from db.base import utcnow
from db.tickets import Ticket, find_or_open_ticket
from tests.messaging.sessions import session_on
from workers.inbound import upsert_contact
from workers.messages import send_message, write_outbound
from workers.transports.base import OutgoingMessage, send_each


class Accepts:
    """A transport at its boundary that takes every message."""

    def send(self, message: OutgoingMessage) -> str:
        return message.wa_id

    def send_many(self, messages: list[OutgoingMessage]) -> list[str]:
        return send_each(self, messages)


def answer(ticket: Ticket, agent_id: int) -> None:
    message = write_outbound(ticket, "an answer", user_id=agent_id).message
    with session_on(ticket.connection_id, Accepts()):
        send_message.fn(message.id)


def test_the_first_answer_to_a_contact_who_wrote_is_the_first_response(factories, database):
    company = factories.company()
    agent = factories.user(company, role="agent")
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", None, False),
                                    factories.connection(company))
    factories.message(ticket, created_at=utcnow() - dt.timedelta(minutes=5))  # the contact wrote

    answer(ticket, agent.id)

    assert Ticket.get_by_id(ticket.id).first_response_at is not None


def test_a_conversation_our_side_began_has_no_first_response(factories, database):
    company = factories.company()
    agent = factories.user(company, role="agent")
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", None, False),
                                    factories.connection(company))

    answer(ticket, agent.id)
    factories.message(ticket)  # the contact's reply
    answer(ticket, agent.id)

    assert Ticket.get_by_id(ticket.id).first_response_at is None
