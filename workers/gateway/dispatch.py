"""Transport events become Dramatiq messages at once, so a gateway crash loses none of them; but for a contact's
typing, a moment's sign the gateway shows itself, in the order the session heard it (workers/presence.py)."""

from __future__ import annotations

import logging
import time

from wharf.redis_client import redis_client
from workers.transports.base import (
    Connected,
    ContactTyping,
    GroupChanged,
    InboundBatch,
    InboundMessage,
    IncomingCall,
    MessageEdited,
    MessageReacted,
    MessageRevoked,
    PairCode,
    PollVoted,
    QrCode,
    Receipt,
)

logger = logging.getLogger(__name__)

LOGIN_CODE_SECONDS = 120


def login_code_key(connection_id: int) -> str:
    return f"wharf:connection:{connection_id}:login"


def dispatch_event(event) -> None:
    from workers.acks import apply_receipts
    from workers.calls import handle_call
    from workers.chat_actions import enqueue_on_session
    from workers.connection_events import record_connection_event
    from workers.groups import handle_group_changed
    from workers.inbound import handle_inbound, handle_inbound_batch
    from workers.message_changes import handle_edit, handle_poll_vote, handle_reaction, handle_revoke
    from workers.presence import show_contact_typing, show_online, watch_again

    if isinstance(event, InboundMessage):
        handle_inbound.send(event.to_dict())
    elif isinstance(event, InboundBatch):  # one Dramatiq message, handled in one transaction
        handle_inbound_batch.send([message.to_dict() for message in event.messages])
    elif isinstance(event, Receipt):
        apply_receipts.send(event.to_dict())
    elif isinstance(event, MessageRevoked):
        handle_revoke.send(event.to_dict())
    elif isinstance(event, MessageEdited):
        handle_edit.send(event.to_dict())
    elif isinstance(event, MessageReacted):
        handle_reaction.send(event.to_dict())
    elif isinstance(event, PollVoted):
        handle_poll_vote.send(event.to_dict())
    elif isinstance(event, IncomingCall):
        handle_call.send(event.to_dict())
    elif isinstance(event, ContactTyping):
        try:
            show_contact_typing(event)
        except Exception:  # the database away: the sign is lost, the session goes on
            logger.warning("connection %s: a contact's typing not shown", event.connection_id, exc_info=True)
    elif isinstance(event, GroupChanged):
        handle_group_changed.send(event.to_dict())
    else:
        if isinstance(event, (QrCode, PairCode)):  # the API shows it at once; it changes every ~20 s
            field = "qr" if isinstance(event, QrCode) else "pairCode"
            key = login_code_key(event.connection_id)
            redis_client().hset(key, field, event.code)
            redis_client().expire(key, LOGIN_CODE_SECONDS)
        elif isinstance(event, Connected):  # logged in: the codes are spent
            redis_client().delete(login_code_key(event.connection_id))
        record_connection_event.send(event.to_dict(), time.time())
        if isinstance(event, Connected):  # a new session watches nothing yet: after the event, which matters more
            try:
                enqueue_on_session(show_online, event.connection_id)  # before the watches, which go online
                watch_again(event.connection_id)
            except Exception:
                logger.warning("connection %s: opened chats not watched again", event.connection_id, exc_info=True)
