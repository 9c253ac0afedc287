"""Changes to messages already in a chat: deleted for everyone, edited, reacted to, voted on (a poll).

A contact's change comes from the session as an event that names its message by WhatsApp id (`MessageRevoked`,
`MessageEdited`, `MessageReacted`, `PollVoted`). The inbound queue runs it in parallel with the messages, so it may come
before its message is stored: its actor then retries with backoff (Dramatiq's `Retry`, which is not logged as an
error) for about five minutes, and gives up quietly after that, as for a message never stored (one from before
the connection was made, a blocked contact's).

Each change happens once, the latest winning: a deletion once; an edit, a reaction or a vote only over an older one
(by WhatsApp's time), so a redelivered or late event changes nothing. Each is announced as `message:update` (a
reaction's with the message's `reactions`, a vote's with the poll's tally), and a ticket whose last message changed
shows it as it is now. A reaction or a vote is no message: no row, no unread count, no ticket, greeting or bot.

Our own changes (`api/resources/messages.py`) are written here too; the session then makes them on WhatsApp
(`workers/chat_actions.py`).
"""

from __future__ import annotations

import datetime as dt

import dramatiq
import peewee
from dramatiq.middleware import CurrentMessage

from api.schemas import iso_utc
from api.ticket_json import ticket_out
from db.base import locked, utcnow
from db.messages import OUR_REACTOR, Message, MessageReaction, PollVote
from db.tickets import Ticket
from workers.acks import receipt_time
from workers.events import Announcements, announcing
from workers.flows.engine import answer_with_vote
from workers.messages import message_event
from workers.ratings import rate_by_vote
from workers.transports.base import e164_or_id, option_hash

WAITING_RETRIES = 10  # with this backoff, about five minutes for a change's message to be stored
WAITING = {"queue_name": "inbound", "max_retries": WAITING_RETRIES, "min_backoff": 1000, "max_backoff": 60_000}
NOTHING_YET = dt.datetime(1970, 1, 1)  # the time of the empty reaction (or vote) a person's first one replaces


class MessageNotStoredYet(dramatiq.Retry):
    """A change came before its message was stored: its retry looks again."""


def change_messages(which: peewee.Expression, fields: dict, announcements: Announcements) -> list[int]:
    """Set `fields` on the messages `which` selects, in the caller's transaction, with their `message:update`
    events; a ticket whose last message one of them was shows it as it is now. Returns their ids."""
    changed = [row.id for row in Message.update(fields).where(which).returning(
        Message.id).execute()]  # read before the commit (SQLite insists)
    for message in Message.select(Message, Ticket).join(Ticket).where(Message.id.in_(changed)):
        announcements.add("message:update", message.company_id, message_event(message), ticket=message.ticket)
        if Ticket.update(last_message=message.preview()).where(
                Ticket.id == message.ticket_id, Ticket.last_message_at == message.created_at).execute():
            ticket = Ticket.get_by_id(message.ticket_id)
            announcements.add("ticket:update", ticket.company_id, ticket_out(ticket).to_json(), ticket=ticket)
    return changed


def mark_deleted(which: peewee.Expression, announcements: Announcements) -> list[int]:
    """Mark the messages `which` selects deleted for everyone (those not yet), as `change_messages`."""
    return change_messages(which & Message.deleted_at.is_null(), {Message.deleted_at: utcnow()}, announcements)


def mark_edited(which: peewee.Expression, body: str, at: dt.datetime, announcements: Announcements) -> list[int]:
    """Give the messages `which` selects the text `body`, edited at `at`, as `change_messages`; one deleted, one
    whose text it is already and one edited later stay as they are."""
    newest = Message.edited_at.is_null() | (Message.edited_at < at)
    return change_messages(which & Message.deleted_at.is_null() & (Message.body != body) & newest,
                           {Message.body: body, Message.edited_at: at}, announcements)


def record_reaction(message: Message, reactor: str, emoji: str, at: dt.datetime,
                    announcements: Announcements) -> bool:
    """Keep `reactor`'s reaction to the message made at `at` (an empty emoji: none), in the caller's transaction,
    unless one they made later is kept; announced when the message's reactions changed, which it returns."""
    MessageReaction.insert(message=message.id, reactor=reactor, emoji="", at=NOTHING_YET).on_conflict_ignore().execute()
    kept = locked(MessageReaction.select().where(MessageReaction.message == message.id,
                                                 MessageReaction.reactor == reactor)).get()
    if kept.at >= at:
        return False
    MessageReaction.update(emoji=emoji, at=at).where(MessageReaction.id == kept.id).execute()
    if kept.emoji == emoji:
        return False
    announcements.add("message:update", message.company_id,
                      {**message_event(message), "reactions": reactions_of([message.id])[message.id]},
                      ticket=message.ticket)
    return True


def reactions_of(message_ids: list[int]) -> dict[int, list[dict]]:
    """{message id: its reactions as the API shows them, `{emoji, from, at}`, oldest first}, in one query."""
    reactions: dict[int, list[dict]] = {message_id: [] for message_id in message_ids}
    if message_ids:
        for reaction in MessageReaction.select().where(MessageReaction.message.in_(message_ids),
                                                       MessageReaction.emoji != "").order_by(MessageReaction.at):
            reactions[reaction.message_id].append({"emoji": reaction.emoji, "from": reaction.reactor,
                                                   "at": iso_utc(reaction.at)})
    return reactions


def chosen_options(poll: dict, option_hashes: list[str]) -> list[str]:
    """The poll's options a vote names by hash (`option_hash`), in the poll's order; a hash of none is ignored."""
    chosen = set(option_hashes)
    return [option for option in poll["options"] if option_hash(option) in chosen]


def record_vote(message: Message, voter: str, options: list[str], at: dt.datetime,
                announcements: Announcements) -> bool:
    """Keep `voter`'s vote on the poll cast at `at` (no options: withdrawn), in the caller's transaction, unless one
    they cast later is kept; announced with the poll's tally when the votes changed, which it returns."""
    PollVote.insert(message=message.id, voter=voter, options=[], at=NOTHING_YET).on_conflict_ignore().execute()
    kept = locked(PollVote.select().where(PollVote.message == message.id, PollVote.voter == voter)).get()
    if kept.at >= at:
        return False
    PollVote.update(options=options, at=at).where(PollVote.id == kept.id).execute()
    if kept.options == options:
        return False
    announcements.add("message:update", message.company_id, message_event(message), ticket=message.ticket)
    return True


def changed_message(event: dict) -> Message | None:
    """The stored message (with its ticket) that a contact's change names; MessageNotStoredYet while it may still be
    stored, None once the retries are spent."""
    message = Message.select(Message, Ticket).join(Ticket).where(
        Message.connection == event["connection_id"], Message.wa_id == event["wa_id"]).first()
    current = CurrentMessage.get_current_message()
    if message is None and (current.options.get("retries", 0) if current else 0) < WAITING_RETRIES:
        raise MessageNotStoredYet(f"message {event['wa_id']} of connection {event['connection_id']} is not stored yet")
    return message


def person_of(event: dict) -> str:
    """Who reacted or voted, as `MessageReaction.reactor` keeps them: a phone in E.164, a hidden number's id, or us."""
    return OUR_REACTOR if event.get("from_me") else e164_or_id(event["sender"])


@dramatiq.actor(**WAITING)
def handle_revoke(event: dict) -> dict:
    """A contact deleted a message of theirs for everyone: it stays, marked deleted, as in WhatsApp's own chat
    ("this message was deleted")."""
    message = changed_message(event)
    if message is None:
        return {"missing": event["wa_id"]}
    with announcing() as announcements:
        deleted = mark_deleted((Message.id == message.id) & (Message.direction == "in"), announcements)
    return {"deleted": deleted}


@dramatiq.actor(**WAITING)
def handle_edit(event: dict) -> dict:
    """A contact edited the text of a message of theirs: it has the new text, and when it was edited."""
    message = changed_message(event)
    if message is None:
        return {"missing": event["wa_id"]}
    with announcing() as announcements:
        edited = mark_edited((Message.id == message.id) & (Message.direction == "in"), event["body"],
                             receipt_time(event.get("timestamp")), announcements)
    return {"edited": edited}


@dramatiq.actor(**WAITING)
def handle_reaction(event: dict) -> dict:
    """Someone in the chat reacted to one of its messages, or took their reaction back."""
    message = changed_message(event)
    if message is None:
        return {"missing": event["wa_id"]}
    with announcing() as announcements:
        changed = record_reaction(message, person_of(event), event["emoji"], receipt_time(event.get("timestamp")),
                                  announcements)
    return {"messageId": message.id, "changed": changed}


@dramatiq.actor(**WAITING)
def handle_poll_vote(event: dict) -> dict:
    """Someone in the chat voted on one of its polls, changed their vote or withdrew it."""
    message = changed_message(event)
    if message is None:
        return {"missing": event["wa_id"]}
    if not message.poll:
        return {"notAPoll": message.id}
    voter, options = person_of(event), chosen_options(message.poll, event["option_hashes"])
    with announcing() as announcements:
        changed = record_vote(message, voter, options, receipt_time(event.get("timestamp")), announcements)
    by_contact = voter != OUR_REACTOR and message.direction == "out"
    answered = by_contact and answer_with_vote(message, voter)
    rated = by_contact and not answered and rate_by_vote(message, voter)
    return {"messageId": message.id, "changed": changed, "answeredBot": answered, "rated": rated}
