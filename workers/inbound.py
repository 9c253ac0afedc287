"""Inbound messages: contact, ticket, message (once per WhatsApp id), then what follows from them.

The gateway hands over a transport's backlog as one `handle_inbound_batch` message, and a single
message as `handle_inbound`; both run `receive_inbound`, which records a connection's events in one
transaction with set-based statements (contacts, live tickets, messages, the tickets' unread counts)
and then, per message and in order, publishes its events and runs what follows it (opt-out, flows,
greeting or queue menu).

An event can come twice (a redelivery, WhatsApp sending it again, a batch retried): the unique
(connection, wa_id) index lets the first insert win, and the unread count happens only for it. What
follows the commit (events, greeting, menu, bot) is pending for the message (`PendingFollowUp`) until
it has run, so a redelivery after a crash or a failed follow-up runs it again, and each part
is safe to run twice. A batch that fails is handled again one event at a time, so a bad event retries
(and dead-letters) alone and does not hold up the others.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections import Counter

import dramatiq
from peewee import JOIN, fn

from api.schemas import iso_utc
from api.ticket_json import tickets_json
from db.automations import AutomationRule
from db.base import database, locked, utcnow
from db.bulk import execute_with_values, insert_models
from db.company_settings import company_setting
from db.connections import Connection
from db.contacts import Contact
from db.messages import MESSAGE_TYPES, Message, PendingFollowUp, announced, followed_up, newest_by_ticket
from db.queues import Queue
from db.tickets import (
    Ticket,
    find_or_open_tickets,
    last_message_assignments,
    record_woken,
    wake_on_contact_assignments,
)
from wharf.media import MediaRejected, media_store
from wharf.metrics import MESSAGES_RECEIVED
from wharf.realtime import emitted_together
from workers.acks import receipt_time
from workers.automations import active_rules, run_automations
from workers.broker import enqueue_together
from workers.chat_actions import read_receipts, send_read_receipts
from workers.contact_details import check_details_of
from workers.events import publish
from workers.flows.engine import hand_to_flow, tickets_a_flow_may_take
from workers.messages import message_event
from workers.opt_outs import handle_opt_out_message
from workers.presence import watch_for_webhooks
from workers.ratings import is_rating_answer, record_ratings, thank_for_rating, tickets_rated_by
from workers.routing import answer_new_ticket, route_menu_answer
from workers.transports.base import e164_or_id

logger = logging.getLogger(__name__)


def upsert_contact(company_id: int, phone: str, name: str | None, is_group: bool) -> Contact:
    """The company's contact for this number, created on first contact; a known name is kept."""
    Contact.insert(company=company_id, phone=phone, name=name or "", is_group=is_group).on_conflict_ignore().execute()
    contact = Contact.get(Contact.company == company_id, Contact.phone == phone)
    if name and not contact.name:
        Contact.update(name=name).where(Contact.id == contact.id).execute()
        contact.name = name
    return contact


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


@dataclasses.dataclass
class Received:
    """One stored message, its ticket and contact."""

    message: Message
    ticket: Ticket  # shared by the ticket's messages of the batch
    contact: Contact
    ticket_created: bool  # this message opened the ticket
    left: dict  # the ticket's fields that its messages change, as this message left them (`as_left`)
    announced: bool = False  # its events went out already (a failed follow-up's retry)
    rated: bool = False  # it answered a rating question, and rated its closed ticket (workers/ratings.py)
    result: dict = dataclasses.field(default_factory=dict)  # what the actor returns for it


def stored_wa_ids(connection: Connection, events: list[dict]) -> dict[str, bool]:
    """{WhatsApp id: follow-up pending} of the events' messages stored on the connection already."""
    return dict(Message.select(Message.wa_id, PendingFollowUp.message.is_null(False))
                .join(PendingFollowUp, JOIN.LEFT_OUTER)
                .where(Message.connection == connection.id, Message.wa_id.in_({e["wa_id"] for e in events})).tuples())


def new_events(events: list[dict], stored: dict[str, bool]) -> list[dict]:
    """The events whose WhatsApp id is not stored yet, each id once (the first)."""
    by_wa_id = {}
    for event in events:
        if event["wa_id"] not in stored:
            by_wa_id.setdefault(event["wa_id"], event)
    return list(by_wa_id.values())


def contacts_of(company_id: int, events: list[dict]) -> dict[str, Contact]:
    """{phone: contact} for the events' chats: the missing ones created, names filled in where unknown."""
    names: dict[str, str] = {}
    groups: dict[str, bool] = {}
    for event in events:
        phone = e164_or_id(event["chat"])
        groups.setdefault(phone, bool(event.get("is_group")))
        if not event.get("is_group") and event.get("sender_name"):
            names.setdefault(phone, event["sender_name"])
    phones = sorted(groups)  # in one order, so two batches meet on the unique index without a deadlock
    known = {c.phone: c for c in Contact.select().where(Contact.company == company_id, Contact.phone.in_(phones))}
    now = utcnow()  # whoever writes is on WhatsApp
    missing = [Contact(company=company_id, phone=p, name=names.get(p, ""), is_group=groups[p],
                       on_whatsapp=None if groups[p] else True, whatsapp_checked_at=None if groups[p] else now)
               for p in phones if p not in known]
    if missing:
        insert_models(missing, 'ON CONFLICT DO NOTHING')
        known |= {c.phone: c for c in Contact.select().where(Contact.company == company_id,
                                                             Contact.phone.in_([c.phone for c in missing]))}
    found_again = [contact.id for contact in known.values() if contact.on_whatsapp is False]
    if found_again:  # a number WhatsApp once refused, on it since
        Contact.update(on_whatsapp=True, whatsapp_checked_at=now).where(Contact.id.in_(found_again)).execute()
    for phone in phones:
        if names.get(phone) and not known[phone].name:
            Contact.update(name=names[phone]).where(Contact.id == known[phone].id, Contact.name == "").execute()
            known[phone].name = names[phone]
    return known


def message_for(connection: Connection, event: dict, ticket_id: int, contact: Contact) -> Message:
    """The event's message row, not inserted yet (its media kept already); one a group's member wrote says who."""
    from_me = bool(event.get("from_me"))
    by_member = bool(event.get("is_group")) and not from_me
    at = receipt_time(event.get("timestamp"))
    kind = event.get("type") or "text"
    media = event.get("media") or {}
    return Message(
        company=connection.company_id, ticket=ticket_id, connection=connection.id, contact=contact.id,
        direction="out" if from_me else "in", type=kind if kind in MESSAGE_TYPES else "text",
        body=event.get("body") or "", status=inbound_status(connection, from_me), wa_id=event["wa_id"],
        media_path=stored_media(connection.company_id, event.get("media")), media_mimetype=media.get("mimetype"),
        media_name=media.get("filename"), location=event.get("location"), contact_card=event.get("contact_card"),
        poll=event.get("poll"), forwarded=bool(event.get("forwarded")),
        sender_phone=e164_or_id(event["sender"]) if by_member else None,
        sender_name=(event.get("sender_name") or None) if by_member else None,
        created_at=at, sent_at=at, delivered_at=None if from_me else at,
        read_at=utcnow() if not from_me and connection.read_messages else None,
    )


def inbound_status(connection: Connection, from_me: bool) -> str:
    """A message the number's phone sent is `sent`; a contact's is `delivered`, or `read` at once by a number that
    reads them as they come (`Connection.read_messages`, `show_read`)."""
    if from_me:
        return "sent"
    return "read" if connection.read_messages else "delivered"


def show_read(connection: Connection, received: list[Received]) -> None:
    """The contacts' blue ticks for their messages, on a number that reads them as they come: one receipt per chat (a
    group's per member). Sent again for a redelivered message, which WhatsApp takes as the same."""
    by_chat: dict[int, tuple[Contact, list[Message]]] = {}
    for r in received:
        if r.message.direction == "in":
            by_chat.setdefault(r.contact.id, (r.contact, []))[1].append(r.message)
    enqueue_together(send_read_receipts.broker, [
        receipt for contact, messages in by_chat.values()
        for receipt in read_receipts(connection.id, contact.phone.lstrip("+"), contact.is_group, messages)])


def link_quoted(connection: Connection, quoting: list[tuple[Message, str]]) -> None:
    """Point the (message, quoted WhatsApp id) pairs at the messages they quote, stored before or just now."""
    if not quoting:
        return
    ids = dict(Message.select(Message.wa_id, Message.id).where(
        Message.connection == connection.id, Message.wa_id.in_([wa_id for _, wa_id in quoting])).tuples())
    for message, wa_id in quoting:
        if wa_id in ids:
            Message.update(quoted_message=ids[wa_id]).where(Message.id == message.id).execute()
            message.quoted_message = ids[wa_id]


def update_tickets(messages: list[Message]) -> dict[int, Ticket]:
    """Count the new messages from contacts as unread, make the newest one each ticket's last message
    (unless the ticket's is newer: `last_message_assignments`) and wake the snoozed tickets a contact's message
    came to (`wake_on_contact_assignments`), in one statement; returns the tickets as they were just before it,
    but woken (recorded, in one more statement when any woke).

    The rows are locked in id order (batches that share tickets queue up instead of deadlocking) with
    FOR NO KEY UPDATE (the message inserts' foreign keys do not wait for it), at the end of the
    transaction, so they stay locked only for its commit."""
    ids = sorted({m.ticket_id for m in messages})
    before = {t.id: t for t in locked(Ticket.select().where(Ticket.id.in_(ids)).order_by(Ticket.id), no_key=True)}
    unread = Counter(m.ticket_id for m in messages if m.direction == "in")
    newest = newest_by_ticket(messages)
    now = utcnow()
    execute_with_values(
        'UPDATE "ticket" SET "unread_messages" = "ticket"."unread_messages" + v.column2, '
        f'{last_message_assignments("v.column3", "v.column4")}, {wake_on_contact_assignments("v.column2")}, '
        '"updated_at" = v.column5 '
        'FROM (VALUES %s) AS v WHERE "ticket"."id" = v.column1',
        [(ticket_id, unread[ticket_id], newest[ticket_id].preview(), newest[ticket_id].created_at, now)
         for ticket_id in ids],
    )
    for ticket in before.values():
        ticket.updated_at = now
    record_woken([ticket for ticket in before.values() if ticket.snoozed_at is not None and unread[ticket.id]],
                 "contact")
    return before


def record_inbound(connection: Connection, events: list[dict]) -> tuple[list[Received], list[str], set[str]]:
    """Contacts, tickets and the messages not stored yet, in one transaction (one commit); in event order,
    each with its ticket as that message left it (the objects end as the last message left them).
    Also returns the WhatsApp ids of the events stored already whose follow-up is still pending, and those
    of the events dropped because their chat is blocked: like WhatsApp's own block, a blocked contact's
    messages open no ticket and count as nothing."""
    with database.atomic():
        stored = stored_wa_ids(connection, events)
        pending = [wa_id for wa_id, follow_up_pending in stored.items() if follow_up_pending]
        events = new_events(events, stored)
        contacts = contacts_of(connection.company_id, events) if events else {}
        blocked = {event["wa_id"] for event in events if contacts[e164_or_id(event["chat"])].blocked}
        events = [event for event in events if event["wa_id"] not in blocked]
        if not events:
            return [], pending, blocked
        contact_of = [contacts[e164_or_id(event["chat"])] for event in events]
        firsts: dict[int, dict] = {}
        for event, contact in zip(events, contact_of, strict=True):
            firsts.setdefault(contact.id, event)
        rated = tickets_rated_by(connection, firsts)  # these messages go to the closed ticket they rate
        needing = {c.id: c for event, c in zip(events, contact_of, strict=True) if event["wa_id"] not in rated}
        ticket_ids, opened = find_or_open_tickets(connection, list(needing.values())) if needing else ({}, set())
        messages = [message_for(connection, event, rated.get(event["wa_id"]) or ticket_ids[contact.id], contact)
                    for event, contact in zip(events, contact_of, strict=True)]
        by_wa_id = {m.wa_id: m for m in messages}
        in_order = sorted(messages, key=lambda m: m.wa_id)  # two batches with an id in common meet in one order
        for message_id, wa_id in insert_models(in_order, 'ON CONFLICT DO NOTHING RETURNING "id", "wa_id"',
                                               returning=True):
            by_wa_id[wa_id].id = message_id
        landed = [(m, e, c) for m, e, c in zip(messages, events, contact_of, strict=True) if m.id is not None]
        if not landed:
            return [], pending, blocked  # they raced a redelivery of themselves, which recorded them
        insert_models([PendingFollowUp(message=m.id) for m, _, _ in landed])
        link_quoted(connection, [(m, e["quoted_wa_id"]) for m, e, _ in landed if e.get("quoted_wa_id")])
        tickets = update_tickets([m for m, _, _ in landed])
        record_ratings([m for m, _, _ in landed if m.wa_id in rated], tickets)
    received = []
    for message, _, contact in landed:
        ticket = tickets[message.ticket_id]
        ticket.unread_messages += message.direction == "in" and message.wa_id not in rated  # `record_ratings`
        ticket.take_last_message(message.preview(), message.created_at)
        received.append(Received(message, ticket, contact, ticket_created=message.ticket_id in opened,
                                 left=as_left(ticket), rated=message.wa_id in rated))
        opened.discard(message.ticket_id)  # its next messages only update it
    return received, pending, blocked


def as_left(ticket: Ticket) -> dict:
    """The fields of a ticket's event that its messages change, as the ticket is now."""
    return {"unreadMessages": ticket.unread_messages, "lastMessage": ticket.last_message,
            "lastMessageAt": iso_utc(ticket.last_message_at)}


def received_before(connection: Connection, wa_ids: list[str]) -> list[Received]:
    """The stored messages with these WhatsApp ids, as their first handling left them, for a redelivery
    to finish what a crash cut short; a message opened its ticket if it is the ticket's first."""
    if not wa_ids:
        return []
    messages = list(Message.select(Message, PendingFollowUp.announced).join(PendingFollowUp)
                    .where(Message.connection == connection.id, Message.wa_id.in_(wa_ids)).order_by(Message.id).objects())
    ticket_ids = {m.ticket_id for m in messages}
    tickets = {t.id: t for t in Ticket.select().where(Ticket.id.in_(ticket_ids))}
    contacts = {c.id: c for c in Contact.select().where(Contact.id.in_({m.contact_id for m in messages}))}
    first = dict(Message.select(Message.ticket, fn.MIN(Message.id)).where(Message.ticket.in_(ticket_ids))
                 .group_by(Message.ticket).tuples())
    return [Received(m, tickets[m.ticket_id], contacts[m.contact_id], ticket_created=first[m.ticket_id] == m.id,
                     left=as_left(tickets[m.ticket_id]), announced=m.announced,
                     rated=is_rating_answer(m, tickets[m.ticket_id]))
            for m in messages if m.ticket_id in tickets and m.contact_id in contacts]  # not deleted since


def publish_received(received: list[Received]) -> None:
    """Each message's ticket and message events, the ticket in the API's shape (`api.ticket_json`) as that
    message left it; one round trip."""
    if not received:
        return
    shapes = tickets_json({r.ticket.id: r.ticket for r in received}.values(), {r.contact.id: r.contact for r in received})
    with emitted_together():
        for r in received:
            ticket = r.ticket
            publish("ticket:new" if r.ticket_created else "ticket:update", ticket.company_id,
                    {**shapes[ticket.id], **r.left}, ticket=ticket)
            publish("message:new", ticket.company_id, message_event(r.message), ticket=ticket)


def with_queues(tickets: list[Ticket]) -> None:
    """Read the tickets' queues in one query (the menu routing looks at them for every message)."""
    ids = {t.queue_id for t in tickets if t.queue_id is not None}
    queues = {q.id: q for q in Queue.select().where(Queue.id.in_(list(ids)))} if ids else {}
    for ticket in tickets:
        if ticket.queue_id in queues:
            ticket.queue = queues[ticket.queue_id]


def follow_up(r: Received, connection: Connection, opt_out_keywords: list[str], flow_may_take: bool,
              rules: list[AutomationRule]) -> None:
    """What a contact's message sets off, in this order: thanks for a rating, opt-out by keyword, the company's
    automation rules, the bot, greeting or menu (on the ticket as the rules left it).
    Each may run again for the same message (a redelivery after a crash): the replies carry the message's
    `auto_reply_key`, a rule runs once per message, a session reads a message once, and a menu move ends the
    message's pending follow-up in its own commit."""
    ticket, contact, message = r.ticket, r.contact, r.message
    if r.rated:
        thank_for_rating(ticket, message)
        r.result["rating"] = ticket.rating
        return
    if handle_opt_out_message(ticket, contact, message, opt_out_keywords):
        r.result["optedOut"] = True
        return
    if rules:
        ticket = run_automations(rules, message, ticket, contact, r.ticket_created)
    if ticket.status == "closed":
        return  # closed since the message came (its redelivery): nothing to answer in it
    if flow_may_take and hand_to_flow(ticket, contact, message, r.ticket_created):
        return
    if r.ticket_created:
        answer_new_ticket(ticket, connection, contact, message)
    elif message.body:
        route_menu_answer(ticket, connection, contact, message)


def follow_up_all(received: list[Received], connection: Connection) -> list[Received]:
    """Each contact's message's follow-up, in order; the cheap checks read once for the batch. A failing
    follow-up is logged and the others go on; returns those that failed."""
    from_contacts = [r for r in received if r.message.direction == "in" and not r.ticket.is_group]
    if not from_contacts:
        return []
    tickets = list({r.ticket.id: r.ticket for r in from_contacts}.values())
    with_queues(tickets)
    flow_tickets = tickets_a_flow_may_take(tickets)
    keywords = company_setting(connection.company_id, "opt_out_keywords")
    rules = active_rules(connection.company_id)
    failed = []
    for r in from_contacts:
        try:
            follow_up(r, connection, keywords, r.ticket.id in flow_tickets, rules)
        except Exception:
            logger.exception("the follow-up of inbound message %s failed", r.message.id)
            failed.append(r)
    return failed


class FollowUpFailed(Exception):
    """Messages were stored but their follow-up failed: they stay pending, for the actor's retry."""


def receive_inbound(events: list[dict]) -> list[dict]:
    """Record the events (all of one connection), publish, follow up; one result per event, in order. A number that
    ignores its groups (`Connection.ignore_groups`) records none of their messages.

    A message is stored with a `PendingFollowUp`, deleted once its events are published and its
    follow-up has run. A redelivery (the worker died after the commit) finds the pending messages and
    does their part again, events included (they may go out twice); the retry of a failed follow-up
    runs only the follow-up. The writers' details (picture, a group's subject) are then checked where due (at most
    once a day)."""
    connection = Connection.get_or_none(Connection.id == events[0]["connection_id"])
    if connection is None:
        return [{"skipped": "connection deleted"} for _ in events]
    ignored = {event["wa_id"] for event in events if event.get("is_group")} if connection.ignore_groups else set()
    new, pending, blocked = record_inbound(connection, [event for event in events if event["wa_id"] not in ignored])
    MESSAGES_RECEIVED.inc(sum(r.message.direction == "in" for r in new))
    received = received_before(connection, pending) + new
    publish_received([r for r in received if not r.announced])
    if connection.read_messages:
        show_read(connection, received)
    watch_for_webhooks(connection.id, connection.company_id,
                       {r.contact.phone.lstrip("+") for r in new if r.message.direction == "in" and not r.contact.is_group})
    failed = {r.message.id for r in follow_up_all(received, connection)}
    followed_up([r.message.id for r in received if r.message.id not in failed])
    check_details_of(connection.id, [r.contact for r in new])  # after the replies, which go first on the session
    if failed:
        announced(list(failed))
        raise FollowUpFailed(f"the follow-up of messages {sorted(failed)} failed")
    for r in received:
        r.result.update(messageId=r.message.id, ticketId=r.ticket.id, ticketCreated=r.ticket_created)
    results = ({r.message.wa_id: r.result for r in received} | {wa_id: {"blocked": wa_id} for wa_id in blocked}
               | {wa_id: {"ignored": wa_id} for wa_id in ignored})
    return [results.pop(event["wa_id"], None) or {"duplicate": event["wa_id"]} for event in events]


@dramatiq.actor(queue_name="inbound", max_retries=10)
def handle_inbound(event: dict) -> dict:
    """One message, from a transport that reads them one at a time: a batch of one."""
    return receive_inbound([event])[0]


@dramatiq.actor(queue_name="inbound", max_retries=10)
def handle_inbound_batch(events: list[dict]) -> list[dict]:
    """Messages a transport read at once, of one connection. If the batch fails, each event is handled
    alone; one that fails alone is sent again as its own `handle_inbound`, to retry by itself."""
    try:
        return receive_inbound(events)
    except Exception:
        if len(events) == 1:
            raise
        logger.exception("an inbound batch of %d failed; handling its events one at a time", len(events))
    results = []
    for event in events:
        try:
            results.append(receive_inbound([event])[0])
        except Exception:
            logger.exception("inbound message %s failed; it retries alone", event.get("wa_id"))
            handle_inbound.send(event)
            results.append({"retried": event.get("wa_id")})
    return results
