"""Contacts' typing, shown to the agents who have their ticket open, as WhatsApp Web shows "typing…" under a chat's name.

An agent opening a ticket (`ticket:join`, api/realtime.py) has its session watch the contact's typing
(`watch_typing`: `watch_contact_typing` on the connection's send queue, as WhatsApp tells it only to a session that
asked, until the session ends; a new session of the number watches again the chats opened within the hour:
`watch_again`); what the session then hears (a `ContactTyping` event) reaches the ticket's realtime clients as
`contact:typing` (`show_contact_typing`), and the webhooks that name that event. The contacts who write to a number whose
company has such a webhook are watched too (`watch_for_webhooks`), so that a bot behind it hears them type. It is a
moment's sign, never stored or retried: the gateway shows it itself, in the order the session heard them (a worker's
threads could swap "typing" and "stopped"), and a crash loses it without harm.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection

import dramatiq

from api.schemas import iso_utc
from db.base import database
from db.connections import Connection
from db.contacts import Contact
from db.tickets import Ticket
from wharf.redis_client import redis_client
from workers.broker import enqueue_together
from workers.chat_actions import TYPING_STALE_AFTER, on_session
from workers.events import publish
from workers.messages import gateway_queue
from workers.transports.base import ContactTyping, e164_or_id
from workers.webhooks import subscriptions

WATCHED_FOR = 3600  # seconds after an agent opened a chat that a new session watches it again
TYPING_EVENT = "contact:typing"


def opened_chats_key(connection_id: int) -> str:
    """A sorted set: the chats of the connection agents opened, by when they last did."""
    return f"wharf:connection:{connection_id}:opened_chats"


@dramatiq.actor(queue_name="gateway", max_retries=0, time_limit=10_000)
def watch_contact_typing(connection_id: int, chat: str) -> None:
    """The session hears the contact's (`chat`, the number in digits) typing from now on; lost without harm (the next
    time an agent opens the ticket asks again)."""
    with on_session(connection_id) as session:
        session.watch_presence(chat)


@dramatiq.actor(queue_name="gateway", max_retries=3, time_limit=10_000)
def show_online(connection_id: int) -> None:
    """The number shows "online", or not, as its connection says now (`Connection.always_online`): when a session
    connects, and when the setting changes."""
    with database.connection_context():
        online = Connection.select(Connection.always_online).where(Connection.id == connection_id).scalar()
    if online is None:  # deleted since
        return
    with on_session(connection_id) as session:
        session.set_online(online)


def watch_typing(connection_id: int, chats: Collection[str]) -> None:
    """An agent opened the contacts' chats (or they wrote to a number a webhook hears typing on): the session watches
    them now, and a new session does within the hour."""
    now = time.time()
    with redis_client().pipeline(transaction=False) as pipe:
        pipe.zadd(opened_chats_key(connection_id), dict.fromkeys(chats, now))
        pipe.zremrangebyscore(opened_chats_key(connection_id), 0, now - WATCHED_FOR)
        pipe.execute()
    watch_on_session(connection_id, chats)


def watch_on_session(connection_id: int, chats: Collection[str]) -> None:
    """`watch_contact_typing` of each chat on the connection's send queue, in one round trip."""
    enqueue_together(watch_contact_typing.broker, [watch_contact_typing.message(connection_id, chat).copy(
        queue_name=gateway_queue(connection_id)) for chat in chats])


def watch_for_webhooks(connection_id: int, company_id: int, chats: Collection[str]) -> None:
    """The contacts who wrote to the number (`chats`) are watched as an agent's open chat is, while the company has a
    webhook that names `contact:typing` for the number; one watched within the half hour is not asked again."""
    if not chats or not subscriptions.matching(company_id, TYPING_EVENT, (connection_id,)):
        return
    chats = list(chats)
    with redis_client().pipeline(transaction=False) as pipe:
        for chat in chats:
            pipe.zscore(opened_chats_key(connection_id), chat)
        watched_at = pipe.execute()
    due = [chat for chat, at in zip(chats, watched_at, strict=True) if at is None or time.time() - at > WATCHED_FOR / 2]
    if due:
        watch_typing(connection_id, due)


def watch_again(connection_id: int) -> int:
    """A new session of the number (`Connected`) knows nothing of what the last one watched: the chats agents opened
    within the hour are watched again. Returns how many."""
    chats = redis_client().zrangebyscore(opened_chats_key(connection_id), time.time() - WATCHED_FOR, "+inf")
    watch_on_session(connection_id, [chat.decode() for chat in chats])
    return len(chats)


def show_contact_typing(event: ContactTyping) -> dict:
    """`contact:typing` {ticketId, contactId, from, typing, recording, at} to those who may see the contact's live
    ticket on the connection; nothing for a contact with none, or for a sign that waited too long to be still true."""
    heard_at = dt.datetime.fromtimestamp(event.timestamp, dt.UTC)
    if dt.datetime.now(dt.UTC) - heard_at > TYPING_STALE_AFTER:
        return {"skipped": "stale"}
    with database.connection_context():
        ticket = (Ticket.select(Ticket, Contact).join(Contact)
                  .where(Ticket.connection == event.connection_id, Ticket.status != "closed",
                         Contact.phone == e164_or_id(event.chat)).first())
        if ticket is None:
            return {"skipped": "no live ticket"}
        publish(TYPING_EVENT, ticket.company_id, {
            "ticketId": ticket.id, "contactId": ticket.contact_id, "from": e164_or_id(event.sender),
            "typing": event.typing, "recording": event.recording, "at": iso_utc(heard_at),
        }, ticket=ticket)
    return {"ticketId": ticket.id, "typing": event.typing}
