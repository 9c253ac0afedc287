"""The Socket.IO server at /socket.io: who may connect, which rooms they join, typing and presence.

Clients connect with their access token (`auth={"token": accessToken}` or `?token=`); a missing,
expired, revoked or refresh token is refused with a `connect_error`. A connected user is in
`company:{id}` and `user:{id}`; admins and supervisors also in `company:{id}:supervisors`
(every ticket event), agents in `queue:{id}` for each of their queues (membership is read at
connect). `ticket:join {ticketId}` adds the ticket's room when the caller may see the ticket, and has the
ticket's session watch its contact's typing (`contact:typing`, workers/presence.py).
What each event is sent to is decided in `wharf.realtime`.

Every process emits through the Redis channel (`wharf.realtime.CHANNEL`) that this server
listens to. Engine.IO keeps a client's session in one process, so long-polling needs every
request of a client to reach the same process: `wharf realtime` serves this app from a single
gunicorn worker with threads (see the README); more of them need a sticky load balancer.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import socketio
from flask import Flask, request
from flask_jwt_extended import decode_token
from flask_socketio import ConnectionRefusedError, SocketIO, emit
from jwt import ExpiredSignatureError

from api.mfa import awaits_mfa_setup
from api.security import is_revoked
from db.base import database, utcnow
from db.company_settings import company_setting
from db.contacts import Contact
from db.queues import UserQueue
from db.tickets import ROLES_SEEING_ALL_TICKETS, Ticket, visible_to
from db.users import User
from wharf.realtime import (
    CHANNEL,
    company_room,
    queue_room,
    supervisors_room,
    ticket_room,
    unrouted_room,
    user_room,
)
from wharf.settings import settings
from workers.chat_actions import enqueue_on_session, show_typing
from workers.presence import watch_typing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """The user behind one Socket.IO connection, as checked at connect."""

    user_id: int
    company_id: int
    role: str
    name: str


def refuse(code: str, message: str) -> ConnectionRefusedError:
    """The client's `connect_error` gets `{message, data: {error: code}}` (err.message and err.data in JS)."""
    return ConnectionRefusedError(message, {"error": code})


def caller_from_token(encoded: str | None) -> Caller:
    """The access token's user, or ConnectionRefusedError (the client's `connect_error`)."""
    if not encoded:
        raise refuse("unauthorized", "send the access token as auth={'token': ...} or ?token=")
    try:
        token = decode_token(encoded)
    except ExpiredSignatureError:
        raise refuse("token_expired", "the token has expired") from None
    except Exception:  # any undecodable or forged token
        raise refuse("invalid_token", "the token is not valid") from None
    if token.get("type") != "access":
        raise refuse("invalid_token", "use an access token")
    if is_revoked(token):
        raise refuse("token_revoked", "the token has been revoked")
    user = User.get_or_none(User.id == int(token["sub"]))
    if user is None or not user.active:
        raise refuse("invalid_token", "the user no longer exists or is disabled")
    if awaits_mfa_setup(user, company_setting):
        raise refuse("mfa_setup_required", "your company requires two-step login: turn it on first")
    return Caller(user_id=user.id, company_id=user.company_id, role=user.role, name=user.name)


def queue_ids_of(user_id: int) -> set[int]:
    return {link.queue_id for link in UserQueue.select(UserQueue.queue).where(UserQueue.user == user_id)}


class EventRefused(Exception):
    """An event the caller may not send or sent wrong; its answer (the ack) is `{error, message}`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.answer = {"error": code, "message": message}


def ticket_id_of(data: Any) -> int:
    value = data.get("ticketId") if isinstance(data, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventRefused("validation_error", "send {ticketId: <integer>}")
    return value


def with_contact(ticket_id: int) -> Ticket | None:
    return Ticket.select(Ticket, Contact).join(Contact).where(Ticket.id == ticket_id).first()


def on_whatsapp(ticket: Ticket) -> bool:
    """Whether the ticket is a live chat with one contact on a WhatsApp session: one that typing goes to and from."""
    return ticket.status != "closed" and not ticket.is_group and ticket.connection_id is not None


def with_database(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Socket.IO events bypass Flask's before/teardown hooks: take and give back a pooled connection here."""

    @functools.wraps(handler)
    def wrapper(*args: Any) -> Any:
        with database.connection_context():
            return handler(*args)

    return wrapper


class Presence:
    """Counts this process's connections per user, so a second tab does not flap online/offline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[int, int] = {}

    def arrive(self, user_id: int) -> bool:
        """Count a connection; True when it is the user's first."""
        with self._lock:
            self._connections[user_id] = self._connections.get(user_id, 0) + 1
            return self._connections[user_id] == 1

    def leave(self, user_id: int) -> bool:
        """Forget a connection; True when it was the user's last."""
        with self._lock:
            left = self._connections.get(user_id, 1) - 1
            if left > 0:
                self._connections[user_id] = left
                return False
            self._connections.pop(user_id, None)
            return True


def mark_presence(socketio_server: SocketIO, caller: Caller, status: str) -> None:
    """Store the user's online status and tell the company (`user:online` or `user:offline`).

    A failure is logged, not raised: it must neither refuse a connection nor skip a disconnect's bookkeeping.
    """
    now = utcnow()
    try:
        User.update(online_status=status, last_seen_at=now).where(User.id == caller.user_id).execute()
        socketio_server.emit(
            f"user:{status}",
            {"userId": caller.user_id, "name": caller.name, "status": status, "lastSeenAt": now.isoformat() + "Z"},
            to=company_room(caller.company_id),
        )
    except Exception:
        log.exception("could not mark user %s %s", caller.user_id, status)


def attach_realtime(app: Flask) -> SocketIO:
    """Serve Socket.IO at /socket.io on `app` (threading mode; WebSocket through simple-websocket)."""
    socketio_server = SocketIO(
        app,
        async_mode="threading",
        # No socket_timeout: the listener blocks on the channel between events; it reconnects by itself.
        client_manager=socketio.RedisManager(settings.redis_url, channel=CHANNEL, logger=log,
                                             redis_options={"socket_connect_timeout": 5}),
        cors_allowed_origins=settings.realtime_cors_origins,
    )
    presence = Presence()

    def caller() -> Caller:
        return Caller(**socketio_server.server.get_session(request.sid))

    @socketio_server.on("connect")
    @with_database
    def connect(auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        who = caller_from_token(token or request.args.get("token"))
        socketio_server.server.save_session(request.sid, vars(who))
        rooms = [company_room(who.company_id), user_room(who.user_id)]
        if who.role in ROLES_SEEING_ALL_TICKETS:
            rooms.append(supervisors_room(who.company_id))
        else:
            rooms.extend(queue_room(queue_id) for queue_id in sorted(queue_ids_of(who.user_id)))
            if company_setting(who.company_id, "agents_see_unqueued_tickets"):
                rooms.append(unrouted_room(who.company_id))
        for room in rooms:
            socketio_server.server.enter_room(request.sid, room)
        if presence.arrive(who.user_id):
            mark_presence(socketio_server, who, "online")

    @socketio_server.on("disconnect")
    @with_database
    def disconnect(_reason: Any = None) -> None:
        session = socketio_server.server.get_session(request.sid)
        if session and presence.leave(session["user_id"]):
            mark_presence(socketio_server, Caller(**session), "offline")

    @socketio_server.on("ticket:join")
    @with_database
    def join_ticket(data: Any = None) -> dict[str, Any]:
        ticket_id = ticket_id_of(data)
        who = caller()
        ticket = with_contact(ticket_id)
        if ticket is None or ticket.company_id != who.company_id:
            raise EventRefused("not_found", "ticket not found")
        visible = visible_to(who.company_id, who.user_id, who.role)
        if not Ticket.select().where(Ticket.id == ticket_id, visible).exists():
            raise EventRefused("forbidden", "the ticket is neither in your queues nor yours")
        socketio_server.server.enter_room(request.sid, ticket_room(ticket_id))
        if on_whatsapp(ticket):  # its contact's typing comes to the room (`contact:typing`, workers/presence.py)
            watch_typing(ticket.connection_id, [ticket.contact.phone.lstrip("+")])
        return {"ok": True, "ticketId": ticket_id}

    @socketio_server.on("ticket:leave")
    def leave_ticket(data: Any = None) -> dict[str, Any]:
        ticket_id = ticket_id_of(data)
        socketio_server.server.leave_room(request.sid, ticket_room(ticket_id))
        return {"ok": True, "ticketId": ticket_id}

    @socketio_server.on("typing")
    @with_database
    def typing(data: Any = None) -> dict[str, Any]:
        """Relayed to the others in the ticket's room, and shown to the contact on WhatsApp ("typing…", or
        "recording audio…" with `recording`: an agent recording a voice note); only from a client that joined it."""
        ticket_id = ticket_id_of(data)
        recording = data.get("recording", False)
        if not isinstance(data.get("typing"), bool) or not isinstance(recording, bool):
            raise EventRefused("validation_error", "send {ticketId: <integer>, typing: <boolean>, recording?: <boolean>}")
        room = ticket_room(ticket_id)
        if room not in socketio_server.server.rooms(request.sid):
            raise EventRefused("not_joined", "join the ticket first (ticket:join)")
        who = caller()
        emit("typing", {"ticketId": ticket_id, "userId": who.user_id, "name": who.name, "typing": data["typing"],
                        "recording": recording}, to=room, include_self=False)
        ticket = with_contact(ticket_id)
        if ticket is not None and on_whatsapp(ticket):
            enqueue_on_session(show_typing, ticket.connection_id, ticket.contact.phone.lstrip("+"), data["typing"],
                               utcnow().isoformat(), recording)
        return {"ok": True}

    @socketio_server.on_error_default
    def answer_error(error: Exception) -> dict[str, str] | bool:
        if isinstance(error, EventRefused):
            return error.answer
        event = request.event["message"]
        log.error("realtime event %s failed", event, exc_info=error)
        if event == "connect":
            return False  # refuse rather than accept a client whose rooms are unknown
        return {"error": "internal_error", "message": "the event could not be handled"}

    return socketio_server
