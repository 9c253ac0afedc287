"""Contacts' typing, shown to the agents who have their ticket open, as WhatsApp Web shows "typing…" under a chat's name.

An agent opening a ticket (`ticket:join`, api/realtime.py) has its session watch the contact's typing
(`watch_contact_typing`, on the connection's send queue: WhatsApp tells it only to a session that asked, until the
session ends); what the session then hears (a `ContactTyping` event) reaches the ticket's realtime clients as
`contact:typing` (`handle_contact_typing`). It is a moment's sign: never stored, retried or sent to webhooks, and
dropped when it waited too long to be still true.
"""

from __future__ import annotations

import datetime as dt

import dramatiq

from api.schemas import iso_utc
from db.contacts import Contact
from db.tickets import Ticket
from workers.chat_actions import TYPING_STALE_AFTER, on_session
from workers.events import emit
from workers.transports.base import e164_or_id


@dramatiq.actor(queue_name="gateway", max_retries=0, time_limit=10_000)
def watch_contact_typing(connection_id: int, chat: str) -> None:
    """The session hears the contact's (`chat`, the number in digits) typing from now on; lost without harm (the next
    time an agent opens the ticket asks again)."""
    with on_session(connection_id) as session:
        session.watch_presence(chat)


@dramatiq.actor(queue_name="presence", max_retries=0, time_limit=10_000)
def handle_contact_typing(event: dict) -> dict:
    """`contact:typing` {ticketId, contactId, from, typing, recording, at} to those who may see the contact's live
    ticket on the connection; nothing for a contact with none."""
    heard_at = dt.datetime.fromtimestamp(event["timestamp"], dt.UTC)
    if dt.datetime.now(dt.UTC) - heard_at > TYPING_STALE_AFTER:
        return {"skipped": "stale"}
    ticket = (Ticket.select(Ticket, Contact).join(Contact)
              .where(Ticket.connection == event["connection_id"], Ticket.status != "closed",
                     Contact.phone == e164_or_id(event["chat"])).first())
    if ticket is None:
        return {"skipped": "no live ticket"}
    emit("contact:typing", ticket.company_id, {
        "ticketId": ticket.id, "contactId": ticket.contact_id, "from": e164_or_id(event["sender"]),
        "typing": event["typing"], "recording": event["recording"], "at": iso_utc(heard_at),
    }, ticket, None)
    return {"ticketId": ticket.id, "typing": event["typing"]}
