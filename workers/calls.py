"""WhatsApp calls to a company's numbers, which Wharf cannot answer: shown to the agents, and rejected when the
company says so (the settings `reject_calls` and `call_rejected_message`), as Whaticket's users know it.

A call is recorded in the caller's ticket as an inbound message of type "call" ("📞 Voice call"), the way
`workers/inbound.py` records a message: the contact found or created, their live ticket found or opened, the
message stored once per call id, its realtime and webhook events (`message:new`, `ticket:new` or
`ticket:update`). It counts as unread, but is stored `read`: it is no message WhatsApp could show read, so an
agent reading the ticket sends no blue tick for it. A ticket the call opens is greeted as one a message opens
(the queue's menu included), but the call is no answer to a menu, no opt-out and nothing for a bot.

With `reject_calls` on, the live session declines the call (the caller's phone stops ringing), and
`call_rejected_message`, if any, answers it, once per call. A blocked contact's call is rejected and recorded
nowhere; a group call is left alone.
"""

from __future__ import annotations

import dramatiq

from db.base import database
from db.company_settings import company_setting
from db.connections import Connection
from db.messages import Message, followed_up
from workers.chat_actions import OPTIONS, enqueue_on_session, on_session
from workers.inbound import Received, publish_received, received_before, record_inbound
from workers.messages import queue_outbound_text
from workers.routing import answer_new_ticket

CALL_BODIES = {False: "📞 Voice call", True: "📹 Video call"}


@dramatiq.actor(**OPTIONS)
def reject_incoming_call(connection_id: int, chat: str, call_id: str) -> None:
    """Decline the call on the connection's session; declining it again changes nothing."""
    with on_session(connection_id) as session:
        session.reject_call(chat, call_id)


def call_message(event: dict) -> dict:
    """The inbound message event that records the call (an `IncomingCall` event) in the caller's ticket."""
    return {"connection_id": event["connection_id"], "wa_id": event["call_id"], "chat": event["chat"],
            "sender": event["chat"], "type": "call", "body": CALL_BODIES[bool(event.get("video"))],
            "timestamp": event.get("timestamp")}


def record_call(connection: Connection, event: dict) -> tuple[Received | None, bool]:
    """(the call's message, recorded now or by a handling a crash cut short, with its follow-up pending;
    whether the caller is blocked). None for a call handled already."""
    with database.atomic():
        new, pending, blocked = record_inbound(connection, [call_message(event)])
        Message.update(status="read", read_at=Message.created_at).where(
            Message.id.in_([r.message.id for r in new])).execute()
    for r in new:
        r.message.status, r.message.read_at = "read", r.message.created_at
    received = received_before(connection, pending) + new
    return (received[0] if received else None), bool(blocked)


def follow_up_call(r: Received, connection: Connection, rejecting: bool) -> None:
    """The company's message for a rejected call; then, in a ticket the call opened, the greeting and menu (or the
    out-of-hours message) a message opening it would get, so that the contact's next message answers that menu.
    Each is keyed by the call's message, and the follow-up ends last: a redelivery sends neither twice."""
    reply = company_setting(connection.company_id, "call_rejected_message") if rejecting else ""
    if reply:
        queue_outbound_text(r.ticket, reply, idempotency_key=f"call-rejected:{r.message.id}")
    if r.ticket_created:
        answer_new_ticket(r.ticket, connection, r.contact, r.message)
    followed_up([r.message.id])


@dramatiq.actor(queue_name="inbound", max_retries=10)
def handle_call(event: dict) -> dict:
    """A contact is calling (an `IncomingCall` event): reject the call if the company does, record it, and send the
    company's message for a rejected call. On a redelivery the call is declined again, but recorded and
    answered once."""
    connection = Connection.get_or_none(Connection.id == event["connection_id"])
    if connection is None:
        return {"skipped": "connection deleted"}
    if event.get("is_group"):
        return {"skipped": "group call"}
    rejecting = company_setting(connection.company_id, "reject_calls")
    if rejecting:  # first: the caller's phone rings until then
        enqueue_on_session(reject_incoming_call, connection.id, event["chat"], event["call_id"])
    r, blocked = record_call(connection, event)
    if r is None:
        return {"rejected": rejecting, "blocked" if blocked else "duplicate": event["call_id"]}
    if not r.announced:
        publish_received([r])
    follow_up_call(r, connection, rejecting)
    return {"rejected": rejecting, "messageId": r.message.id, "ticketId": r.ticket.id, "ticketCreated": r.ticket_created}
