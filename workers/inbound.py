"""Inbound messages: contact, ticket, message (once per WhatsApp id), then what follows from them.

`handle_inbound` can run twice for the same WhatsApp message (a redelivery, WhatsApp sending it
again): the unique (connection, wa_id) index makes the second insert fail, and everything that
follows the insert (unread count, greeting, events) happens only for the first.
"""

from __future__ import annotations

import base64
import logging

import dramatiq
import peewee

from db.base import database, utcnow
from db.connections import Connection
from db.contacts import Contact
from db.messages import MESSAGE_TYPES, Message
from db.tickets import Ticket, find_or_open_ticket
from wharf.media import MediaRejected, media_store
from wharf.metrics import MESSAGES_RECEIVED
from workers.acks import receipt_time
from workers.events import publish
from workers.flows.engine import hand_to_flow
from workers.messages import message_event
from workers.opt_outs import handle_opt_out_message
from workers.routing import answer_new_ticket, route_menu_answer

logger = logging.getLogger(__name__)


def upsert_contact(company_id: int, phone: str, name: str | None, is_group: bool) -> Contact:
    """The company's contact for this number, created on first contact; a known name is kept."""
    Contact.insert(company=company_id, phone=phone, name=name or "", is_group=is_group).on_conflict_ignore().execute()
    contact = Contact.get(Contact.company == company_id, Contact.phone == phone)
    if name and not contact.name:
        Contact.update(name=name).where(Contact.id == contact.id).execute()
        contact.name = name
    return contact


def insert_once(fields: dict) -> Message | None:
    """Insert the message unless its WhatsApp id is known on the connection already."""
    try:
        with database.atomic():
            return Message.create(**fields)
    except peewee.IntegrityError:
        return None


def stored_media(company_id: int, media: dict | None) -> str | None:
    """Keep the media the gateway downloaded; a type we do not keep stays a message without its file."""
    if not media or not media.get("data"):
        return None
    try:
        return media_store().save(company_id, base64.b64decode(media["data"]), media.get("mimetype") or "",
                                  media.get("filename"))
    except MediaRejected as error:
        logger.info("inbound media not kept: %s", error)
        return None


def chat_phone(event: dict) -> str:
    chat = event["chat"]
    return chat if event.get("is_group") or chat.startswith("+") else f"+{chat}"


class Duplicate(Exception):
    """The WhatsApp id is on the connection already (a message that raced ours got there first)."""


def record_inbound(connection: Connection, event: dict) -> tuple[Message, Ticket, bool, Contact]:
    """Contact, ticket and message in one transaction (one commit): all of them, or none."""
    is_group = bool(event.get("is_group"))
    from_me = bool(event.get("from_me"))
    at = receipt_time(event.get("timestamp"))
    kind = event.get("type") or "text"
    media = event.get("media") or {}
    with database.atomic():
        contact = upsert_contact(connection.company_id, chat_phone(event),
                                 None if is_group else event.get("sender_name"), is_group)
        ticket, ticket_created = find_or_open_ticket(contact, connection, is_group)
        quoted = None
        if event.get("quoted_wa_id"):
            quoted = Message.get_or_none(Message.connection == connection.id, Message.wa_id == event["quoted_wa_id"])
        message = insert_once({
            "company": connection.company_id,
            "ticket": ticket,
            "connection": connection,
            "contact": contact,
            "direction": "out" if from_me else "in",
            "type": kind if kind in MESSAGE_TYPES else "text",
            "body": event.get("body") or "",
            "status": "sent" if from_me else "delivered",
            "wa_id": event["wa_id"],
            "quoted_message": quoted,
            "media_path": stored_media(connection.company_id, event.get("media")),
            "media_mimetype": media.get("mimetype"),
            "media_name": media.get("filename"),
            "created_at": at,
            "sent_at": at,
            "delivered_at": None if from_me else at,
        })
        if message is None:
            raise Duplicate(event["wa_id"])  # undoes a ticket opened for it
        ticket = Ticket.update(
            unread_messages=Ticket.unread_messages + (0 if from_me else 1),
            last_message=message.body or f"[{message.type}]", last_message_at=at, updated_at=utcnow(),
        ).where(Ticket.id == ticket.id).returning(Ticket).execute()[0]
    return message, ticket, ticket_created, contact


@dramatiq.actor(queue_name="inbound", max_retries=10)
def handle_inbound(event: dict) -> dict:
    connection = Connection.get_or_none(Connection.id == event["connection_id"])
    if connection is None:
        return {"skipped": "connection deleted"}
    if Message.select().where(Message.connection == connection.id, Message.wa_id == event["wa_id"]).exists():
        return {"duplicate": event["wa_id"]}
    try:
        message, ticket, ticket_created, contact = record_inbound(connection, event)
    except Duplicate:
        return {"duplicate": event["wa_id"]}
    if message.direction == "in":
        MESSAGES_RECEIVED.inc()
    publish("ticket:new" if ticket_created else "ticket:update", ticket.company_id,
            {"id": ticket.id, "status": ticket.status, "unreadMessages": ticket.unread_messages,
             "lastMessage": ticket.last_message, "contactId": contact.id}, ticket=ticket)
    publish("message:new", ticket.company_id, message_event(message), ticket=ticket)
    if message.direction == "in" and not ticket.is_group and handle_opt_out_message(ticket, contact, message.body):
        return {"messageId": message.id, "ticketId": ticket.id, "ticketCreated": ticket_created, "optedOut": True}
    if message.direction == "in" and not ticket.is_group and not hand_to_flow(ticket, contact, message, ticket_created):
        if ticket_created:
            answer_new_ticket(ticket, connection, contact, message.created_at)
        elif message.body:
            route_menu_answer(ticket, connection, contact, message.body)
    return {"messageId": message.id, "ticketId": ticket.id, "ticketCreated": ticket_created}
