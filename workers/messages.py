"""Outbound messages: queue one, and send it on the gateway session that owns its connection.

A message gets its WhatsApp id when it is written, before the first attempt, so a retry after
a crash (of a worker, the gateway, anything) sends the same id again and WhatsApp keeps one.
`send_message` runs in the gateway: its messages are routed to the connection's own queue
(`gateway_queue`), which only the gateway holding that connection's lease consumes, in batches
(`workers/gateway/send_consumer.py`, `send_messages`).
"""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
import uuid
from collections.abc import Sequence
from urllib.parse import urlparse

import dramatiq
from dramatiq.common import current_millis, dq_name
from peewee import Case, fn

from api.schemas import iso_utc
from db.base import database, locked_in_id_order, utcnow
from db.bulk import insert_models
from db.contacts import Contact
from db.flows import FlowSession, why_withdrawn
from db.jobs import Job
from db.messages import Message, QuickMessage, contact_wrote_first, newest_by_ticket, polls_shown
from db.raw import execute
from db.tickets import Ticket, last_message_assignments
from wharf.logs import request_id_var
from wharf.media import MediaRejected, MediaUnavailable, media_link, media_store, message_type_for
from wharf.metrics import MESSAGES_SENT
from wharf.voice_notes import VOICE_NOTE_TYPE, is_voice_note
from workers.ban_signals import report_send_error
from workers.broker import enqueue_together
from workers.events import Announcements, announcing
from workers.jobs import job_for, sending_tracked
from workers.remote_media import RemoteFile, remote_media
from workers.transports.base import (
    ContactCard,
    Location,
    OutgoingMessage,
    Poll,
    TransportError,
    deterministic_wa_id,
)

logger = logging.getLogger(__name__)

SEND_RETRIES = 10  # about seven minutes of backoff for a session to come back
UNSENT = ("queued", "sending")


class PermanentSendError(Exception):
    """WhatsApp refused this message for good (bad number, banned, media refused): no retry."""


class SessionUnavailable(Exception):
    """This process holds no live session for the connection; a retry finds the one that does."""


# What a send attempt may meet that is WhatsApp's, the media's or the session's doing, not a bug.
SEND_ERRORS = (TransportError, MediaRejected, MediaUnavailable, SessionUnavailable)

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
    announcements: Announcements
    typing_ms: int = 0  # `OutboundDraft.typing_ms`
    typing_at_ms: int | None = None  # `OutboundDraft.typing_at_ms`


@dataclasses.dataclass(frozen=True)
class OutboundDraft:
    """What to send on a ticket, before it is written (`write_outbounds`)."""

    ticket: Ticket
    body: str
    user_id: int | None = None
    media_key: str | None = None
    media_mimetype: str | None = None
    media_name: str | None = None
    message_type: str = "text"
    location: Location | None = None  # a shared place: `message_type` "location", `body` its text
    contact_card: ContactCard | None = None  # a shared contact: `message_type` "contact", `body` its vCard
    poll: Poll | None = None  # a question to vote on: `message_type` "poll", `body` its text
    quoted_message_id: int | None = None
    forwarded: bool = False
    idempotency_key: str | None = None
    typing_ms: int = 0  # the contact sees "typing…" ("recording audio…" for a voice note) this long before it goes
    typing_at_ms: int | None = None  # from then (Unix ms; a bot's message after the ones before it), not from now
    flow_session_id: int | None = None  # a bot's message: not sent if the bot is let go of first (`db.flows.why_withdrawn`)
    # The request (or job) it was drafted in, whose id its send's logs carry: taken where it is drafted,
    # since another request's thread may write it (api/group_commit.py).
    request_id: str | None = dataclasses.field(default_factory=request_id_var.get)

    def message(self) -> Message:
        ticket = self.ticket
        return Message(
            company=ticket.company_id,
            ticket=ticket,
            connection=ticket.connection_id,
            contact=ticket.contact_id,
            user=self.user_id,
            direction="out",
            type=self.message_type,
            body=self.body,
            media_path=self.media_key,
            media_mimetype=self.media_mimetype,
            media_name=self.media_name,
            location=dataclasses.asdict(self.location) if self.location else None,
            contact_card=dataclasses.asdict(self.contact_card) if self.contact_card else None,
            poll=dataclasses.asdict(self.poll) if self.poll else None,
            quoted_message=self.quoted_message_id,
            forwarded=self.forwarded,
            idempotency_key=self.idempotency_key,
            flow_session=self.flow_session_id,
            wa_id=deterministic_wa_id(ticket.connection_id, uuid.uuid4().hex),
        )


def write_outbound(ticket: Ticket, body: str, **options) -> Outbound:
    """Write an outbound message and its Job in the caller's transaction; `dispatch_outbound` after it commits.
    `options` are those of `OutboundDraft`."""
    return write_outbounds([OutboundDraft(ticket, body, **options)])[0]


def write_outbounds(drafts: Sequence[OutboundDraft]) -> list[Outbound]:
    """`write_outbound` for many messages (the API's concurrent sends, `api/group_commit.py`): one INSERT of
    the messages, one of their Jobs and one UPDATE per ticket, however many there are.

    The statements are SQL text bound by the driver (db/raw.py, db/bulk.py), not built by Peewee: every
    send of the API, a campaign, a flow or a schedule comes through here."""
    messages = [draft.message() for draft in drafts]
    ids = dict(insert_models(messages, 'RETURNING "wa_id", "id"', returning=True))
    for message in messages:
        message.id = ids[message.wa_id]
    jobs = [job_for(send_message, message.id, company_id=message.company_id, user_id=message.user_id,
                    queue_name=gateway_queue(message.connection_id), request_id=draft.request_id)
            for draft, message in zip(drafts, messages, strict=True)]
    insert_models([job for job, _ in jobs])
    outbounds = []
    for draft, message, (job, broker_message) in zip(drafts, messages, jobs, strict=True):
        announcements = Announcements()  # its webhooks commit with it
        announcements.add("message:new", message.company_id, message_event(message), ticket=draft.ticket)
        if draft.typing_ms or draft.typing_at_ms:  # it goes once its typing is done
            goes_at = (draft.typing_at_ms or current_millis()) + draft.typing_ms
            if goes_at > current_millis():
                broker_message = delayed_until(broker_message, goes_at)
        outbounds.append(Outbound(message, draft.ticket, job.id, broker_message, announcements, draft.typing_ms,
                                  draft.typing_at_ms))
    # Last, so the tickets' row locks (every send to a conversation takes its ticket's) are held only until
    # the commit; in the order of their ids, as two batches that share tickets must take them.
    # The ticket's last message moves only forward in time (`last_message_assignments`).
    latest = newest_by_ticket(messages)
    for ticket_id in sorted(latest):
        message = latest[ticket_id]
        execute(f'UPDATE "ticket" SET {last_message_assignments("v.column1", "v.column2")}, "updated_at" = %s '
                'FROM (VALUES (%s, %s)) AS v WHERE "ticket"."id" = %s',
                utcnow(), message.preview(), message.created_at, ticket_id)
    return outbounds


def delayed_until(message: dramatiq.Message, eta_ms: int) -> dramatiq.Message:
    """The message on its queue's delay queue, due at `eta_ms` (Unix ms), as `RedisBroker.enqueue(message, delay=)`
    sends one."""
    return message.copy(queue_name=dq_name(message.queue_name), options={"eta": eta_ms})


def typing_shown(outbound: Outbound) -> dramatiq.Message:
    """The contact's phone shows "typing…" (or "recording audio…" before a voice note) from now, or from
    `typing_at_ms`, until the message, which takes it away, as a phone's does; on the connection's send queue, ahead
    of the message's delayed send."""
    from workers.chat_actions import typing_sign  # it imports this module

    return typing_sign(outbound.message.connection_id, outbound.ticket.contact.phone.lstrip("+"), True,
                       max(outbound.typing_at_ms or 0, current_millis()), is_voice_note(outbound.message.media_mimetype))


def dispatch_outbound(outbound: Outbound) -> None:
    """Send the committed message's job to the gateway, and announce the message (`dispatch_outbounds`)."""
    dispatch_outbounds([outbound])


def dispatch_outbounds(outbounds: Sequence[Outbound]) -> None:
    """Send the committed messages' jobs to the gateway, and announce the messages: the enqueues, then the
    jobs' markers and the realtime events in one round trip, then the webhook deliveries written with them.

    A crash before this leaves Jobs without their Redis markers, which `requeue_lost_jobs` sends, and
    deliveries without theirs, which `resend_lost_deliveries` sends."""
    if typing := [typing_shown(outbound) for outbound in outbounds if outbound.typing_ms]:
        enqueue_together(send_message.broker, typing)  # a moment's sign: lost without harm, never tracked
    with sending_tracked(send_message.broker, [outbound.broker_message for outbound in outbounds]) as pipeline:
        for outbound in outbounds:
            outbound.announcements.send(pipeline)


def queue_outbound(ticket: Ticket, body: str, **options) -> tuple[Message, str]:
    """Write an outbound message (one commit) and enqueue its send; returns (message, job id)."""
    with database.atomic():
        outbound = write_outbound(ticket, body, **options)
    dispatch_outbound(outbound)
    return outbound.message, outbound.job_id


def queue_outbound_text(ticket: Ticket, body: str, user_id: int | None = None,
                        idempotency_key: str | None = None) -> Message:
    """A plain text from the system or an agent (greetings, farewells, auto-replies). With an
    `idempotency_key`, a second call with the key sends nothing and returns the first message."""
    if idempotency_key is not None:
        earlier = Message.get_or_none(Message.company == ticket.company_id, Message.idempotency_key == idempotency_key)
        if earlier is not None:
            return earlier
    return queue_outbound(ticket, body, user_id=user_id, idempotency_key=idempotency_key)[0]


def auto_reply_key(inbound: Message) -> str:
    """The idempotency key of what the platform answers to an inbound message by itself (greeting,
    menu, opt-out reply): one answer, however often the message's follow-up runs (workers/inbound.py)."""
    return f"auto-reply:{inbound.id}"


def message_event(message: Message) -> dict:
    """A message as its realtime events and webhooks show it; a poll with its votes (read in a query of its own)."""
    return {
        "id": message.id,
        "ticketId": message.ticket_id,
        "direction": message.direction,
        "status": message.status,
        "waId": message.wa_id,
        "body": message.body,
        "type": message.type,
        "deletedAt": iso_utc(message.deleted_at),
        "editedAt": iso_utc(message.edited_at),
        "location": message.location,
        "contact": message.contact_card,
        "poll": polls_shown([message]).get(message.id),
        "mediaUrl": media_link(message.id) if message.media_path else None,
        "sender": message.sender,
        "forwarded": message.forwarded,
    }


def outgoing_for(message: Message, contact: Contact, media_by_path: dict[str, dict]) -> OutgoingMessage:
    """What the session sends; `media_by_path` keeps the files a batch read or downloaded already
    (a campaign's thousand messages share one)."""
    media = None
    if message.media_path:
        if message.media_path not in media_by_path:
            media_by_path[message.media_path] = media_of(message)
        media = media_by_path[message.media_path]
    quoted = Message.get_or_none(Message.id == message.quoted_message_id) if message.quoted_message_id else None
    return OutgoingMessage(
        to=contact.phone, body=message.body, wa_id=message.wa_id, media=media,
        quoted_wa_id=quoted.wa_id if quoted else None,
        location=Location(**message.location) if message.location else None,
        contact_card=ContactCard(**message.contact_card) if message.contact_card else None,
        poll=Poll(**message.poll) if message.poll else None,
        forwarded=message.forwarded,
    )


def is_remote(media_path: str | None) -> bool:
    return media_path is not None and media_path.startswith(("http://", "https://"))


def media_options(media_url: str | None, as_voice_note: bool = False) -> dict:
    """OutboundDraft's fields for a media URL, which the gateway fetches when it sends: its extension says what it is
    until then; a voice note's type is the one it is made (`remote_file`)."""
    if not media_url:
        return {}
    if as_voice_note:
        return {"media_key": media_url, "media_mimetype": VOICE_NOTE_TYPE, "message_type": "audio"}
    guessed = mimetypes.guess_type(urlparse(media_url).path)[0] or "application/octet-stream"
    return {"media_key": media_url, "message_type": message_type_for(guessed)}


def stored_media_options(key: str, mimetype: str, name: str | None) -> dict:
    """OutboundDraft's fields for a file of the media store (an upload, a quick message's)."""
    return {"media_key": key, "media_mimetype": mimetype, "media_name": name, "message_type": message_type_for(mimetype)}


def quick_message_media(quick: QuickMessage | None) -> dict:
    """OutboundDraft's fields for a quick message's file; none for one without a file (or no quick message)."""
    if quick is None or not quick.media_path:
        return {}
    return stored_media_options(quick.media_path, quick.media_mimetype, quick.media_name)


def remote_file(message: Message) -> RemoteFile:
    """The message's media URL, and whether its file goes as a voice note: a URL's file has no type until it is
    fetched, so one set beforehand (by `POST /api/messages` `voiceNote`) is the type it is made."""
    return message.media_path, is_voice_note(message.media_mimetype)


def media_of(message: Message) -> dict:
    if is_remote(message.media_path):
        return remote_media.take(*remote_file(message))  # downloaded off this thread (workers/remote_media.py)
    return {"mimetype": message.media_mimetype, "filename": message.media_name,
            "data": media_store().read(message.media_path)}


def is_permanent(error: Exception) -> bool:
    """Retrying cannot help: WhatsApp refused for good, or the media is refused or gone (4xx)."""
    return error.permanent if isinstance(error, TransportError | MediaUnavailable) else isinstance(error, MediaRejected)


def mark_failed(message_id: int, reason: str) -> None:
    with announcing() as announcements:
        updated = Message.update(status="failed", error=reason[:2000]).where(
            Message.id == message_id, Message.status.in_(UNSENT)
        ).execute()
        if updated:
            message = Message.get_by_id(message_id)
            announcements.add("message:update", message.company_id, message_event(message), ticket=message.ticket)


def fail_unsent_of(connection_id: int, reason: str, announcements: Announcements) -> None:
    """Fail the connection's messages not sent yet, and their Jobs, in the caller's transaction: the
    connection is being deleted, and no gateway will take its queue again (api/resources/connections.py)."""
    failed = [row.id for row in Message.update(status="failed", error=reason).where(
        locked_in_id_order(Message, (Message.connection == connection_id) & Message.status.in_(UNSENT))
    ).returning(Message.id).execute()]  # read before the commit (SQLite insists)
    Job.update(status="failed", error=reason, finished_at=utcnow()).where(
        Job.queue_name == gateway_queue(connection_id), Job.status == "queued").execute()
    for message in Message.select(Message, Ticket).join(Ticket).where(Message.id.in_(failed)):
        announcements.add("message:update", message.company_id, message_event(message), ticket=message.ticket)


@dramatiq.actor(queue_name="gateway", max_retries=SEND_RETRIES, min_backoff=1000, max_backoff=60_000,
                time_limit=120_000, throws=(PermanentSendError,), on_retry_exhausted="fail_message",
                job_marks_running=False)
def send_message(message_id: int) -> dict:
    """Send one outbound message on this gateway's session for its connection; idempotent.

    The gateway runs these messages in batches (`SendConsumer`, `send_messages`); this is the batch of one.
    """
    outcome = send_messages([message_id])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def send_messages(message_ids: list[int]) -> list[dict | Exception]:
    """Send outbound messages on this gateway's sessions; one outcome per id, in order: the result,
    or the exception the message's retry (or failure) goes by.

    Three writes for the whole batch when all goes well: its messages become `sending` as they are handed
    to the session, `sent` after it (one statement and one commit each), then the Jobs `done` (JobTracking).
    A failed attempt leaves its message `sending` (retrying) until it is sent or, after the last retry,
    `failed`; one whose file is not in yet stays `queued`. A message already sent, acknowledged, failed
    or deleted is skipped, so a batch redelivered after a crash sends nothing twice; one deleted for everyone
    before it went out fails, as does a bot's whose bot was let go of before it went (`withdrawn_bot_messages`).
    """
    rows = {
        message.id: message
        for message in Message.select(Message, Contact, Ticket).join(Contact).switch(Message).join(Ticket).where(
            Message.id.in_(message_ids)
        )
    }
    outcomes: dict[int, dict | Exception] = {}
    unsent = []
    withdrawn = withdrawn_bot_messages(list(rows.values()))
    for message_id in dict.fromkeys(message_ids):
        message = rows.get(message_id)
        if message is None or message.status not in UNSENT:
            outcomes[message_id] = {"messageId": message_id, "skipped": True}
        elif message.deleted_at is not None:  # deleted for everyone before it went out
            outcomes[message_id] = settled_failure(message, PermanentSendError("deleted before it was sent"))
        elif message_id in withdrawn:
            outcomes[message_id] = settled_failure(message, PermanentSendError(withdrawn[message_id]))
        else:
            unsent.append(message)
    sent: dict[int, str] = {}  # message id -> the WhatsApp id it went out with
    for message, outcome in zip(unsent, hand_to_sessions(unsent), strict=True):
        if isinstance(outcome, Exception):
            outcomes[message.id] = settled_failure(message, outcome)
        else:
            sent[message.id] = outcome or message.wa_id
    if sent:
        outcomes.update(record_sent(rows, sent))
    return [outcomes[message_id] for message_id in message_ids]


def withdrawn_bot_messages(messages: list[Message]) -> dict[int, str]:
    """{id: why} of the bots' messages among `messages` that have not gone yet and must not go now, their bot let go
    of since it wrote them (`db.flows.why_withdrawn`): an agent took the ticket while the bot was "typing…"."""
    waiting = [message for message in messages if message.flow_session_id is not None and message.status == "queued"]
    if not waiting:
        return {}
    sessions = {session.id: session for session in FlowSession.select().where(
        FlowSession.id.in_({message.flow_session_id for message in waiting}))}
    reasons = {message.id: why_withdrawn(sessions[message.flow_session_id], message.ticket, message.contact)
               for message in waiting if message.flow_session_id in sessions}
    return {message_id: f"withdrawn: the bot let go of the conversation before it went ({reason})"
            for message_id, reason in reasons.items() if reason}


def mark_sending(messages: list[Message]) -> None:
    """The session takes them: those on their first attempt become `sending`, since now; a retry keeps
    its first attempt's time. Committed before the attempt, so a session that hangs on it shows as stuck
    (workers/watchdogs.py). A message that never reaches the session (its file is not in, the session is
    not here) is not marked, so the watchdog does not take a slow media URL for a hung session. Not
    announced: clients hear of the message again when it is sent or failed."""
    Message.update(status="sending", sending_at=utcnow()).where(
        locked_in_id_order(Message, Message.id.in_([message.id for message in messages]) & (Message.status == "queued"))
    ).execute()


def hand_to_sessions(messages: list[Message]) -> list[str | Exception]:
    """Each message to its connection's session, a connection's messages in one `send_many`; for each,
    the WhatsApp id it went out with or what stopped it. A transport that cannot send with our id
    (neonize 0.5) answers with WhatsApp's: receipts use it."""
    from workers.gateway.sessions import registry

    outcomes: dict[int, str | Exception] = {}
    by_connection: dict[int, list[Message]] = {}
    for message in messages:
        if message.contact.blocked:
            outcomes[message.id] = PermanentSendError("the contact is blocked")
        else:
            by_connection.setdefault(message.connection_id, []).append(message)
    for connection_id, batch in by_connection.items():
        session = registry.get(connection_id)
        if session is None:
            unavailable = SessionUnavailable(f"no live session for connection {connection_id} in this gateway")
            outcomes.update((message.id, unavailable) for message in batch)
            continue
        remote_media.prefetch(remote_file(message) for message in batch if is_remote(message.media_path))
        ready, media_by_path = [], {}
        for message in batch:
            try:
                ready.append((message, outgoing_for(message, message.contact, media_by_path)))
            except SEND_ERRORS as error:  # the media: refused or gone
                outcomes[message.id] = error
        if ready:
            mark_sending([message for message, _ in ready])
            sent = session.send_many([outgoing for _, outgoing in ready])
            outcomes.update(zip((message.id for message, _ in ready), sent, strict=True))
    return [outcomes[message.id] for message in messages]


def settled_failure(message: Message, error: Exception) -> Exception:
    """Record what a failed attempt means for the message; returns the error its retry goes by
    (a PermanentSendError: none). A number WhatsApp does not know is marked so once its message has failed, which
    whoever sees the mark can rely on."""
    if isinstance(error, TransportError):
        report_send_error(message.connection_id, error)
    if not (isinstance(error, PermanentSendError) or is_permanent(error)):
        return error
    mark_failed(message.id, str(error))
    if isinstance(error, TransportError) and error.reason_code == "not_on_whatsapp":  # campaigns skip it from now on
        Contact.update(on_whatsapp=False, whatsapp_checked_at=utcnow()).where(Contact.id == message.contact_id).execute()
    if isinstance(error, PermanentSendError):
        return error
    permanent = PermanentSendError(str(error))
    permanent.__cause__ = error
    return permanent


def record_sent(rows: dict[int, Message], sent: dict[int, str]) -> dict[int, dict]:
    """Mark the sent messages `sent` in one transaction, and tell the clients; returns their results."""
    now = utcnow()
    # A receipt may have overtaken us: only a message not yet sent becomes "sent".
    fields = {Message.status: Case(None, [(Message.status.in_(UNSENT), "sent")], Message.status),
              Message.sent_at: fn.COALESCE(Message.sent_at, now)}
    with_their_ids = [(message_id, wa_id) for message_id, wa_id in sent.items() if wa_id != rows[message_id].wa_id]
    if with_their_ids:
        fields[Message.wa_id] = Case(Message.id, with_their_ids, Message.wa_id)
    with announcing() as announcements:
        updated = list(Message.update(fields).where(locked_in_id_order(Message, Message.id.in_(list(sent)))).returning(
            Message.id, Message.status, Message.wa_id).execute())  # read before the commit (SQLite insists)
        answered = {rows[message_id].ticket_id for message_id in sent if rows[message_id].user_id is not None}
        if answered:
            Ticket.update(first_response_at=now).where(
                Ticket.id.in_(answered), Ticket.first_response_at.is_null(), contact_wrote_first()
            ).execute()
        for row in updated:
            message = rows[row.id]
            message.status, message.wa_id = row.status, row.wa_id
            announcements.add("message:update", message.company_id, message_event(message), ticket=message.ticket)
    MESSAGES_SENT.inc(len(sent))
    results = {message_id: {"messageId": message_id, "skipped": True} for message_id in sent}  # deleted meanwhile
    results |= {row.id: {"messageId": row.id, "waId": row.wa_id} for row in updated}
    return results


@dramatiq.actor(queue_name="outbound-failures", max_retries=5)
def fail_message(message_data: dict, retry_info: dict) -> None:
    """After the last retry of a send: the message is failed, with the last error as the reason."""
    traceback = (message_data.get("options") or {}).get("traceback") or ""
    last_line = traceback.strip().splitlines()[-1] if traceback.strip() else "retries exhausted"
    attempts = retry_info.get("retries", 0) + 1  # the retries after the first attempt
    mark_failed(message_data["args"][0], f"gave up after {attempts} attempts: {last_line}")

