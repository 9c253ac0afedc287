"""Outbound messages: queue one, and send it on the gateway session that owns its connection.

A message gets its WhatsApp id when it is written, before the first attempt, so a retry after
a crash (of a worker, the gateway, anything) sends the same id again and WhatsApp keeps one.
`send_message` runs in the gateway: its messages are routed to the connection's own queue
(`gateway_queue`), which only the gateway holding that connection's lease consumes.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

import dramatiq
from peewee import Case, fn

from db.base import database, utcnow
from db.contacts import Contact
from db.messages import Message
from db.tickets import Ticket
from wharf.media import MediaRejected, MediaUnavailable, fetch_remote, media_store
from wharf.metrics import MESSAGES_SENT
from workers.ban_signals import report_send_error
from workers.events import publish
from workers.jobs import record_job, send_tracked
from workers.transports.base import OutgoingMessage, TransportError, deterministic_wa_id

logger = logging.getLogger(__name__)

SEND_RETRIES = 10  # about seven minutes of backoff for a session to come back
UNSENT = ("queued", "sending")


class PermanentSendError(Exception):
    """WhatsApp refused this message for good (bad number, banned, media refused): no retry."""


class SessionUnavailable(Exception):
    """This process holds no live session for the connection; a retry finds the one that does."""


GATEWAY_QUEUE_PREFIX = "gw."


def gateway_queue(connection_id: int) -> str:
    """A connection's send queue: only the gateway holding its session consumes it."""
    return f"{GATEWAY_QUEUE_PREFIX}{connection_id}"


@dataclasses.dataclass(frozen=True)
class Outbound:
    """A message written with its Job, whose send waits for the transaction to commit."""

    message: Message
    ticket: Ticket
    job_id: str
    broker_message: dramatiq.Message


def write_outbound(
    ticket: Ticket,
    body: str,
    *,
    user_id: int | None = None,
    media_key: str | None = None,
    media_mimetype: str | None = None,
    media_name: str | None = None,
    message_type: str = "text",
    quoted_message_id: int | None = None,
    idempotency_key: str | None = None,
) -> Outbound:
    """Write an outbound message and its Job in the caller's transaction; `dispatch_outbound` after it commits."""
    message = Message.create(
        company=ticket.company_id,
        ticket=ticket,
        connection=ticket.connection_id,
        contact=ticket.contact_id,
        user=user_id,
        direction="out",
        type=message_type,
        body=body,
        media_path=media_key,
        media_mimetype=media_mimetype,
        media_name=media_name,
        quoted_message=quoted_message_id,
        idempotency_key=idempotency_key,
        wa_id=deterministic_wa_id(ticket.connection_id, uuid.uuid4().hex),
    )
    Ticket.update(last_message=body or f"[{message_type}]", last_message_at=message.created_at, updated_at=utcnow()).where(
        Ticket.id == ticket.id
    ).execute()
    job, broker_message = record_job(
        send_message, message.id, company_id=ticket.company_id, user_id=user_id,
        queue_name=gateway_queue(ticket.connection_id),
    )
    return Outbound(message, ticket, job.id, broker_message)


def dispatch_outbound(outbound: Outbound) -> None:
    """Send the committed message's job to the gateway, and announce the message.

    A crash before this leaves a Job without its Redis marker: `requeue_lost_jobs` sends it."""
    send_tracked(send_message.broker, outbound.broker_message)
    publish("message:new", outbound.ticket.company_id, message_event(outbound.message), ticket=outbound.ticket)


def queue_outbound(ticket: Ticket, body: str, **options) -> tuple[Message, str]:
    """Write an outbound message (one commit) and enqueue its send; returns (message, job id)."""
    with database.atomic():
        outbound = write_outbound(ticket, body, **options)
    dispatch_outbound(outbound)
    return outbound.message, outbound.job_id


def queue_outbound_text(ticket: Ticket, body: str, user_id: int | None = None) -> Message:
    """A plain text from the system or an agent (greetings, farewells, auto-replies)."""
    return queue_outbound(ticket, body, user_id=user_id)[0]


def message_event(message: Message) -> dict:
    return {
        "id": message.id,
        "ticketId": message.ticket_id,
        "direction": message.direction,
        "status": message.status,
        "waId": message.wa_id,
        "body": message.body,
        "type": message.type,
    }


def outgoing_for(message: Message, contact: Contact) -> OutgoingMessage:
    media = None
    if message.media_path and message.media_path.startswith(("http://", "https://")):
        data, mimetype, filename = fetch_remote(message.media_path)
        media = {"mimetype": mimetype, "filename": filename, "data": data}
    elif message.media_path:
        media = {
            "mimetype": message.media_mimetype,
            "filename": message.media_name,
            "data": media_store().read(message.media_path),
        }
    quoted = Message.get_or_none(Message.id == message.quoted_message_id) if message.quoted_message_id else None
    return OutgoingMessage(
        to=contact.phone, body=message.body, wa_id=message.wa_id, media=media,
        quoted_wa_id=quoted.wa_id if quoted else None,
    )


def is_permanent(error: Exception) -> bool:
    """Retrying cannot help: WhatsApp refused for good, or the media is refused or gone (4xx)."""
    return error.permanent if isinstance(error, TransportError | MediaUnavailable) else isinstance(error, MediaRejected)


def mark_failed(message_id: int, reason: str) -> None:
    updated = Message.update(status="failed", error=reason[:2000]).where(
        Message.id == message_id, Message.status.in_(UNSENT)
    ).execute()
    if updated:
        message = Message.get_by_id(message_id)
        publish("message:update", message.company_id, message_event(message), ticket=message.ticket)


@dramatiq.actor(queue_name="gateway", max_retries=SEND_RETRIES, min_backoff=1000, max_backoff=60_000,
                time_limit=120_000, throws=(PermanentSendError,), on_retry_exhausted="fail_message",
                job_marks_running=False)
def send_message(message_id: int) -> dict:
    """Send one outbound message on this gateway's session for its connection; idempotent.

    Two writes when all goes well: the message becomes `sent`, its Job `done`. A failed
    attempt leaves it `sending` (retrying) until it is sent or, after the last retry, `failed`.
    """
    from workers.gateway.sessions import registry

    message = Message.select(Message, Contact, Ticket).join(Contact).switch(Message).join(Ticket).where(
        Message.id == message_id
    ).first()
    if message is None or message.status not in UNSENT:  # sent, acknowledged, failed or deleted: nothing to do
        return {"messageId": message_id, "skipped": True}
    if message.contact.blocked:
        mark_failed(message_id, "the contact is blocked")
        raise PermanentSendError("the contact is blocked")
    session = registry.get(message.connection_id)
    try:
        if session is None:
            raise SessionUnavailable(f"no live session for connection {message.connection_id} in this gateway")
        sent_wa_id = session.send(outgoing_for(message, message.contact))
    except (TransportError, MediaRejected, MediaUnavailable, SessionUnavailable) as error:
        if isinstance(error, TransportError):
            report_send_error(message.connection_id, error)
        if is_permanent(error):
            mark_failed(message_id, str(error))
            raise PermanentSendError(str(error)) from error
        Message.update(status="sending").where(Message.id == message_id, Message.status == "queued").execute()
        raise
    MESSAGES_SENT.inc()
    now = utcnow()
    # A receipt may have overtaken us: only a message not yet sent becomes "sent".
    # A transport that cannot send with our id (neonize 0.5) answers with WhatsApp's: receipts use it.
    updated = Message.update(
        status=Case(None, [(Message.status.in_(UNSENT), "sent")], Message.status),
        sent_at=fn.COALESCE(Message.sent_at, now),
        wa_id=sent_wa_id or message.wa_id,
    ).where(Message.id == message_id).returning(Message.status, Message.wa_id).execute()
    message.status, message.wa_id = next((row.status, row.wa_id) for row in updated)
    if message.user_id is not None:
        record_first_response(message.ticket_id, now)
    publish("message:update", message.company_id, message_event(message), ticket=message.ticket)
    return {"messageId": message_id, "waId": message.wa_id}


def record_first_response(ticket_id: int, at) -> None:
    Ticket.update(first_response_at=at).where(Ticket.id == ticket_id, Ticket.first_response_at.is_null()).execute()


@dramatiq.actor(queue_name="outbound-failures", max_retries=5)
def fail_message(message_data: dict, retry_info: dict) -> None:
    """After the last retry of a send: the message is failed, with the last error as the reason."""
    traceback = (message_data.get("options") or {}).get("traceback") or ""
    last_line = traceback.strip().splitlines()[-1] if traceback.strip() else "retries exhausted"
    mark_failed(message_data["args"][0], f"gave up after {retry_info.get('retries')} attempts: {last_line}")

