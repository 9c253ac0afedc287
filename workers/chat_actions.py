"""What an agent does to a conversation on WhatsApp besides sending: read receipts (the contact's blue ticks),
deleting or editing our messages for everyone, and reacting to messages.

They go on the connection's own send queue (`gateway_queue`), since only the gateway holding its session
can do them; the gateway runs them after the sends of the same batch (`SendConsumer`), so a deletion never
overtakes its message. They are enqueued in the transaction of the change, before it commits: one that runs
first finds the change not committed and retries (`NotCommitted`); one whose change then rolls back only does
what the agent asked for. An edit or a reaction makes on WhatsApp what is stored when it runs, the latest, so
any done twice, or after a later one, changes nothing more.
A refusal for good (a message too old to delete, say) is logged, not retried.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import dramatiq
from dramatiq.common import current_millis

from db.base import utcnow
from db.contacts import Contact
from db.messages import OUR_REACTOR, Message, MessageReaction
from workers.messages import SessionUnavailable, delayed_until, gateway_queue
from workers.transports.base import TransportError

if TYPE_CHECKING:
    from workers.gateway.sessions import ManagedSession

logger = logging.getLogger(__name__)
SENT = ("sent", "delivered", "read")
OPTIONS = {"queue_name": "gateway", "max_retries": 5, "min_backoff": 1000, "max_backoff": 60_000, "time_limit": 60_000}


def live_session(connection_id: int) -> ManagedSession:
    """The connection's session in this gateway (else SessionUnavailable, to retry where it is)."""
    from workers.gateway.sessions import registry

    session = registry.get(connection_id)
    if session is None:
        raise SessionUnavailable(f"no live session for connection {connection_id} in this gateway")
    return session


@contextlib.contextmanager
def on_session(connection_id: int) -> Iterator:
    """The connection's session in this gateway, where a refusal for good is logged, not retried."""
    try:
        yield live_session(connection_id)
    except TransportError as error:
        if not error.permanent:
            raise
        logger.info("connection %s: WhatsApp refused for good: %s", connection_id, error)


@dramatiq.actor(**OPTIONS)
def send_read_receipts(connection_id: int, chat: str, wa_ids: list[str], sender: str | None = None) -> None:
    """Mark the contact's messages read; in a group, those of one member (`sender`)."""
    with on_session(connection_id) as session:
        session.mark_read(chat, wa_ids, sender)


TYPING_STALE_AFTER = dt.timedelta(seconds=10)


@dramatiq.actor(queue_name="gateway", max_retries=0, time_limit=10_000)
def show_typing(connection_id: int, chat: str, typing: bool, at: str, recording: bool = False) -> None:
    """Show the contact that an agent is typing, or recording a voice note (`recording`), or stopped, as of `at`
    (ISO): a moment's sign, so never retried and dropped when it waited too long (a session that was down): a late
    one would show what is no longer true. Lost without harm."""
    if utcnow() - dt.datetime.fromisoformat(at) > TYPING_STALE_AFTER:
        return
    with on_session(connection_id) as session:
        session.set_typing(chat, typing, recording)


def typing_sign(connection_id: int, chat: str, typing: bool, at_ms: int, recording: bool = False) -> dramatiq.Message:
    """`show_typing` as of `at_ms` (Unix ms) on the connection's send queue, held on its delay queue until then when
    that is to come."""
    at = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).replace(tzinfo=None)
    message = show_typing.message(connection_id, chat, typing, at.isoformat(), recording).copy(
        queue_name=gateway_queue(connection_id))
    return delayed_until(message, at_ms) if at_ms > current_millis() else message


class NotCommitted(Exception):
    """The change is not committed yet (or was rolled back): its retry looks again."""


def with_contact(message_id: int) -> Message | None:
    return Message.select(Message, Contact).join(Contact).where(Message.id == message_id).first()


def require_committed(stored_at: dt.datetime | None, made_at: str, change: str) -> None:
    """NotCommitted while the change made at `made_at` (ISO) is not stored: what is stored is older (`stored_at`)."""
    if stored_at is None or stored_at < dt.datetime.fromisoformat(made_at):
        raise NotCommitted(f"{change} is not committed (yet)")


@dramatiq.actor(**OPTIONS)
def revoke_message(connection_id: int, message_id: int) -> None:
    """Delete our message for everyone in the contact's chat, if it went out: one deleted before that is
    failed by the send instead (`send_messages`), which comes first on the queue."""
    message = with_contact(message_id)
    if message is None or message.status not in SENT or not message.wa_id:
        return
    if message.deleted_at is None:
        raise NotCommitted(f"the deletion of message {message_id} is not committed (yet)")
    with on_session(connection_id) as session:
        session.revoke(message.contact.phone.lstrip("+"), message.wa_id)


@dramatiq.actor(**OPTIONS)
def edit_on_whatsapp(connection_id: int, message_id: int, edited_at: str) -> None:
    """Show the contact the text of our message as it is now, the edit made at `edited_at` (ISO) or a later one."""
    message = with_contact(message_id)
    if message is None or message.deleted_at is not None:
        return
    require_committed(message.edited_at, edited_at, f"the edit of message {message_id}")
    with on_session(connection_id) as session:
        session.edit(message.contact.phone.lstrip("+"), message.wa_id, message.body)


@dramatiq.actor(**OPTIONS)
def react_on_whatsapp(connection_id: int, message_id: int, reacted_at: str) -> None:
    """Show the contact our reaction to the message as it is now, the one made at `reacted_at` (ISO) or a later one
    (none: an empty emoji)."""
    message = with_contact(message_id)
    if message is None:
        return
    ours = MessageReaction.get_or_none(MessageReaction.message == message_id, MessageReaction.reactor == OUR_REACTOR)
    require_committed(ours.at if ours else None, reacted_at, f"our reaction to message {message_id}")
    with on_session(connection_id) as session:
        session.react(message.contact.phone.lstrip("+"), message.wa_id, ours.emoji, from_me=message.direction == "out",
                      sender=member_of(message))


def member_of(message: Message) -> str | None:
    """The group member who wrote the message, as a transport names a chat (None for any other message)."""
    return message.sender_phone.lstrip("+") if message.direction == "in" and message.sender_phone else None


def read_receipts(connection_id: int, chat: str, is_group: bool, read: Iterable[Message]) -> list[dramatiq.Message]:
    """`send_read_receipts` of the messages read in one chat, on the connection's send queue: in a group, one per
    member who wrote, as WhatsApp wants (a group's message kept without its member gets none)."""
    by_member: dict[str | None, list[str]] = {}
    for message in read:
        if message.wa_id and (member_of(message) or not is_group):
            by_member.setdefault(member_of(message), []).append(message.wa_id)
    return [send_read_receipts.message(connection_id, chat, wa_ids, member).copy(queue_name=gateway_queue(connection_id))
            for member, wa_ids in by_member.items()]


def enqueue_on_session(actor: dramatiq.Actor, connection_id: int, *args) -> None:
    """Queue `actor(connection_id, *args)` on the connection's send queue."""
    actor.broker.enqueue(actor.message(connection_id, *args).copy(queue_name=gateway_queue(connection_id)))
