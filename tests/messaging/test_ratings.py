"""Service ratings: an agent closes the ticket, the contact is asked to rate it, and their answer rates that
ticket instead of opening a new one (workers/ratings.py)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from db.base import utcnow
from db.company_settings import save_company_settings
from db.messages import Message
from db.tickets import Ticket
from workers.inbound import handle_inbound, handle_inbound_batch
from workers.message_changes import handle_poll_vote
from workers.ratings import RATING_OPTIONS
from workers.transports.base import InboundMessage, PollVoted, option_hash

QUESTION = "Dê uma nota de 1 a 5"


def inbound(connection, body: str, wa_id: str) -> dict:
    event = InboundMessage(connection.id, wa_id=wa_id, chat="5511987654321", sender="5511987654321",
                           sender_name="Ana Lima", body=body, timestamp=1_800_000_000.0)
    return handle_inbound.fn(event.to_dict())


def replies() -> list[str]:
    return [m.body for m in Message.select().where(Message.direction == "out").order_by(Message.id)]


@pytest.fixture
def connection(factories, company):
    save_company_settings(company.id, {"rating_enabled": True, "rating_message": QUESTION,
                                       "rating_thanks_message": "Obrigado!"})
    return factories.connection(company, farewell_message="Tchau!")


@pytest.fixture
def closed(client, admin_headers, connection):
    """Ana's ticket, closed by an agent."""
    ticket_id = inbound(connection, "oi", "IN1")["ticketId"]
    assert client.post(f"/api/tickets/{ticket_id}/close", headers=admin_headers).status_code == 200
    return Ticket.get_by_id(ticket_id)


def test_closing_asks_for_a_rating_and_the_answer_rates_the_closed_ticket(client, admin_headers, closed,
                                                                          connection, broker):
    result = inbound(connection, " 5 ", "IN2")
    inbound(connection, " 5 ", "IN2")  # delivered again

    rated = Ticket.get_by_id(closed.id)
    assert replies() == ["Tchau!", QUESTION, "Obrigado!"]
    assert (result["ticketId"], result["rating"], result["ticketCreated"]) == (closed.id, 5, False)
    assert (rated.status, rated.rating, rated.unread_messages, Ticket.select().count()) == ("closed", 5, 0, 1)
    shown = client.get(f"/api/tickets/{closed.id}", headers=admin_headers).get_json()
    assert shown["rating"] == 5 and shown["ratedAt"]

    after = inbound(connection, "5", "IN3")  # rated already: a new conversation

    assert after["ticketId"] != closed.id and Ticket.get_by_id(closed.id).rating == 5


def test_any_other_answer_opens_a_ticket_and_the_question_lapses(closed, connection, broker):
    other = inbound(connection, "preciso de ajuda", "IN2")
    then = inbound(connection, "5", "IN3")

    assert other["ticketCreated"] and then["ticketId"] == other["ticketId"]
    assert Ticket.get_by_id(closed.id).rating is None and "Obrigado!" not in replies()


def test_a_question_a_day_old_is_not_answered(closed, connection, broker):
    Ticket.update(rating_requested_at=utcnow() - dt.timedelta(hours=25)).where(Ticket.id == closed.id).execute()

    assert inbound(connection, "4", "IN2")["ticketCreated"]
    assert Ticket.get_by_id(closed.id).rating is None


def test_no_question_when_the_company_asks_for_no_ratings(client, admin_headers, factories, company, broker):
    connection = factories.connection(company)
    ticket_id = inbound(connection, "oi", "IN1")["ticketId"]

    client.post(f"/api/tickets/{ticket_id}/close", headers=admin_headers)

    assert replies() == [] and inbound(connection, "5", "IN2")["ticketCreated"]


def test_in_one_batch_the_first_message_rates_and_the_next_one_opens_a_ticket(closed, connection, broker):
    events = [InboundMessage(connection.id, wa_id=wa_id, chat="5511987654321", sender="5511987654321",
                             sender_name="Ana Lima", body=body, timestamp=1_800_000_000.0).to_dict()
              for wa_id, body in (("IN2", "3"), ("IN3", "e mais uma coisa"))]

    rating, message = handle_inbound_batch.fn(events)

    assert (rating["ticketId"], rating["rating"]) == (closed.id, 3)
    assert message["ticketCreated"] and message["ticketId"] != closed.id


def test_a_rating_asked_as_a_poll_is_given_once_by_the_contact_s_vote(client, admin_headers, company, connection,
                                                                       broker):
    save_company_settings(company.id, {"rating_as_poll": True})
    ticket_id = inbound(connection, "oi", "IN1")["ticketId"]
    client.post(f"/api/tickets/{ticket_id}/close", headers=admin_headers)
    question = Message.get(Message.type == "poll")

    def vote(option: str) -> dict:
        return handle_poll_vote.fn(PollVoted(connection.id, wa_id=question.wa_id, chat="5511987654321",
                                             sender="5511987654321", option_hashes=(option_hash(option),),
                                             timestamp=time.time()).to_dict())

    first, changed = vote(RATING_OPTIONS[3]), vote(RATING_OPTIONS[0])

    assert (question.poll["name"], question.poll["options"]) == (QUESTION, list(RATING_OPTIONS))
    assert (first["rated"], changed["rated"]) == (True, False)  # rated once: a changed vote changes nothing
    rated = Ticket.get_by_id(ticket_id)
    assert (rated.status, rated.rating) == ("closed", 4)
    assert replies() == ["Tchau!", question.body, "Obrigado!"]
    assert client.get(f"/api/tickets/{ticket_id}", headers=admin_headers).get_json()["rating"] == 4
