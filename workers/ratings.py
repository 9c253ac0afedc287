"""Service ratings (the company setting `rating_enabled`), as Whaticket's users know them.

When an agent closes a ticket, the contact is asked to rate the service from 1 to 5 (`rating_message`).
The contact's next message on that number, if it is such a number and comes within `RATING_WINDOW`
while they have no live ticket there, rates the closed ticket: it joins that ticket instead of opening
a new one, and is answered with `rating_thanks_message`. Anything else starts a conversation as usual,
and the question lapses. A ticket is rated once; a redelivered message rates nothing twice.

With `rating_as_poll`, the question is a WhatsApp poll of the five ratings the contact taps (`RATING_OPTIONS`): their
vote rates the ticket as a written number does (`rate_by_vote`), and a written number still counts.
"""

from __future__ import annotations

import datetime as dt

from peewee import fn

from api.ticket_json import ticket_out
from db.base import utcnow
from db.company_settings import company_setting
from db.connections import Connection
from db.messages import Message, PollVote
from db.tickets import Ticket
from workers.events import announcing
from workers.messages import Outbound, auto_reply_key, dispatch_outbound, queue_outbound_text, write_outbound
from workers.transports.base import Poll

RATING_WINDOW = dt.timedelta(hours=24)
RATINGS = range(1, 6)
RATING_OPTIONS = ("1 ⭐", "2 ⭐⭐", "3 ⭐⭐⭐", "4 ⭐⭐⭐⭐", "5 ⭐⭐⭐⭐⭐")  # a rating poll's, in order
POLL_QUESTION_LENGTH = 255  # WhatsApp's longest poll question


def rating_in(text: str | None) -> int | None:
    """The rating a message gives: its text is one of the numbers 1 to 5, and nothing else."""
    text = (text or "").strip()
    return int(text) if text.isdigit() and int(text) in RATINGS else None


def ask_for_rating(ticket: Ticket) -> Outbound | None:
    """In the closing transaction: the question to the contact of a ticket an agent closes, when the company
    asks for ratings (not in groups); `dispatch_outbound` it after the commit."""
    if ticket.is_group or not company_setting(ticket.company_id, "rating_enabled"):
        return None
    question = company_setting(ticket.company_id, "rating_message")
    if not question:
        return None
    Ticket.update(rating_requested_at=utcnow()).where(Ticket.id == ticket.id).execute()
    if company_setting(ticket.company_id, "rating_as_poll"):
        poll = Poll(question[:POLL_QUESTION_LENGTH], RATING_OPTIONS)
        return write_outbound(ticket, poll.text(), message_type="poll", poll=poll)
    return write_outbound(ticket, question)


def tickets_rated_by(connection: Connection, first_events: dict[int, dict]) -> dict[str, int]:
    """{WhatsApp id: closed ticket id} of the messages that answer a rating question, of `first_events`
    ({contact id: the contact's first message of an inbound batch}): a rating, while the contact's latest
    ticket on the connection that asked lately is not rated yet and they have no live ticket there."""
    answers = {contact_id: event for contact_id, event in first_events.items()
               if not event.get("is_group") and rating_in(event.get("body")) is not None}
    if not answers:
        return {}
    asked = Ticket.alias("asked")
    live = Ticket.select(Ticket.id).where(Ticket.contact == asked.contact, Ticket.connection == connection.id,
                                          Ticket.status != "closed")
    rows = (asked.select(asked.contact, asked.id)
            .where(asked.contact.in_(list(answers)), asked.connection == connection.id, asked.status == "closed",
                   asked.rating.is_null(), asked.rating_requested_at >= utcnow() - RATING_WINDOW, ~fn.EXISTS(live))
            .order_by(asked.contact, asked.rating_requested_at.desc()).tuples())
    tickets: dict[int, int] = {}
    for contact_id, ticket_id in rows:
        tickets.setdefault(contact_id, ticket_id)  # the latest question of each contact
    return {answers[contact_id]["wa_id"]: ticket_id for contact_id, ticket_id in tickets.items()}


def record_ratings(messages: list[Message], tickets: dict[int, Ticket]) -> None:
    """In the inbound transaction, after the answers were counted in their tickets: they rate them (once: a
    rated ticket stays so), and a closed ticket has nothing unread, its rating included; on the rows and on
    `tickets` ({id: the ticket as the transaction read it})."""
    now = utcnow()
    for message in messages:
        rating = rating_in(message.body)
        if Ticket.update(rating=rating, rated_at=now, unread_messages=0, updated_at=now).where(
                Ticket.id == message.ticket_id, Ticket.rating.is_null()).execute():
            ticket = tickets[message.ticket_id]
            ticket.rating, ticket.rated_at, ticket.unread_messages = rating, now, 0


def is_rating_answer(message: Message, ticket: Ticket) -> bool:
    """Whether a stored message rated its (closed) ticket: for a redelivery, which knows no more than the rows."""
    return ticket.status == "closed" and ticket.rating is not None and rating_in(message.body) == ticket.rating


def rate_by_vote(poll: Message, voter: str) -> bool:
    """A contact's vote (their latest, as kept) on the rating poll of their closed ticket rates it, as a written number
    does: once, within `RATING_WINDOW` of the question, thanked; announced as `ticket:update`. True when it rated."""
    if tuple(poll.poll["options"]) != RATING_OPTIONS or poll.ticket_id is None:
        return False
    ticket = Ticket.get_by_id(poll.ticket_id)
    asked_at = ticket.rating_requested_at
    if (ticket.status != "closed" or ticket.rating is not None or asked_at is None or poll.created_at < asked_at
            or utcnow() - asked_at > RATING_WINDOW):
        return False
    options = PollVote.get(PollVote.message == poll.id, PollVote.voter == voter).options
    if not options:  # withdrawn
        return False
    now, thanks = utcnow(), company_setting(ticket.company_id, "rating_thanks_message")
    with announcing() as announcements:
        rated = Ticket.update(rating=RATING_OPTIONS.index(options[0]) + 1, rated_at=now, updated_at=now).where(
            Ticket.id == ticket.id, Ticket.rating.is_null()).execute()
        if not rated:
            return False
        answer = write_outbound(ticket, thanks, idempotency_key=f"rating-thanks:{ticket.id}") if thanks else None
        rated_ticket = Ticket.get_by_id(ticket.id)
        announcements.add("ticket:update", ticket.company_id, ticket_out(rated_ticket).to_json(), ticket=rated_ticket)
    if answer is not None:
        dispatch_outbound(answer)
    return True


def thank_for_rating(ticket: Ticket, answer: Message) -> None:
    thanks = company_setting(ticket.company_id, "rating_thanks_message")
    if thanks:
        queue_outbound_text(ticket, thanks, idempotency_key=auto_reply_key(answer))
