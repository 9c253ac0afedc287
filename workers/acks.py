"""Delivery receipts: statuses only ever move forward (queued → sending → sent → delivered → read).

A receipt carries many WhatsApp ids and is applied in one statement. Because every outbound
message has its WhatsApp id from the moment it is written, a receipt that overtakes the
gateway's own "sent" update still finds its row, and the later "sent" cannot undo it.
"""

from __future__ import annotations

import datetime as dt

import dramatiq
from peewee import fn

from db.base import database, locked_in_id_order
from db.messages import Message
from db.tickets import Ticket
from workers.events import Announcements
from workers.messages import message_event

STATUS_RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
RECEIPT_STATUS = {"delivered": "delivered", "read": "read", "played": "read"}


def statuses_below(status: str) -> list[str]:
    return [name for name, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]


def receipt_time(timestamp: float | str | None) -> dt.datetime:
    if isinstance(timestamp, int | float):
        return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)
    if isinstance(timestamp, str):
        parsed = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def advance(connection_id: int, wa_ids: list[str], status: str, at: dt.datetime) -> list[Message]:
    """Move the messages forward to `status` (one statement); returns those that moved, with their tickets."""
    fields = {Message.status: status, Message.sent_at: fn.COALESCE(Message.sent_at, at),
              Message.delivered_at: fn.COALESCE(Message.delivered_at, at)}
    if status == "read":
        fields[Message.read_at] = fn.COALESCE(Message.read_at, at)
    moving = (Message.connection == connection_id) & Message.wa_id.in_(wa_ids) & Message.status.in_(
        statuses_below(status))
    # The rows are locked as they are read, so a status that moved meanwhile is seen: no second check.
    moved = list(Message.update(fields).where(locked_in_id_order(Message, moving)).returning(
        Message.id, Message.company, Message.ticket, Message.direction, Message.status, Message.wa_id, Message.body,
        Message.type, Message.deleted_at, Message.edited_at, Message.location, Message.contact_card,
        Message.poll).execute())
    # What the events need of the tickets: who sees them (realtime), and their number (webhooks of some numbers).
    shown = Ticket.select(Ticket.id, Ticket.queue, Ticket.user, Ticket.connection)
    tickets = {ticket.id: ticket for ticket in shown.where(
        Ticket.id.in_({message.ticket_id for message in moved}))} if moved else {}
    for message in moved:
        message.ticket = tickets[message.ticket_id]
    return moved


def record_receipt(receipt: dict) -> Announcements:
    """The messages moved and their `message:update` webhooks written, in one transaction; the events to
    send once it has committed."""
    announcements = Announcements()
    status = RECEIPT_STATUS.get(receipt["status"])
    if status is None:
        return announcements
    with database.atomic():
        at = receipt_time(receipt.get("timestamp"))
        for message in advance(receipt["connection_id"], list(receipt["wa_ids"]), status, at):
            announcements.add("message:update", message.company_id, message_event(message), ticket=message.ticket)
    return announcements


@dramatiq.actor(queue_name="acks", max_retries=10)
def apply_receipts(receipt: dict) -> None:
    """Apply one receipt event (many WhatsApp ids, one status); running it twice changes nothing."""
    record_receipt(receipt).send()
