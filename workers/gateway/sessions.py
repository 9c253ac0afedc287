"""Live sessions of this gateway process, each kept connected with backoff and a circuit breaker."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from workers.transports import build_transport
from workers.transports.base import (
    AddressBookEntry,
    Connected,
    Disconnected,
    GroupInfo,
    LoggedOut,
    OutgoingMessage,
    ProfilePicture,
    StatusPost,
    Transport,
    TransportError,
)

logger = logging.getLogger(__name__)


class Backoff:
    """Exponential delays with full jitter, and a breaker that opens after too many failures.

    After `trip_after` failures within `window` seconds the breaker stays open `cooldown`
    seconds: a number that keeps failing is not hammered (WhatsApp bans numbers that do).
    """

    def __init__(self, base: float = 1.0, cap: float = 60.0, trip_after: int = 8, window: float = 300.0,
                 cooldown: float = 300.0) -> None:
        self.base, self.cap = base, cap
        self.trip_after, self.window, self.cooldown = trip_after, window, cooldown
        self.failures: list[float] = []

    def next_delay(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self.failures = [t for t in self.failures if now - t < self.window] + [now]
        if len(self.failures) >= self.trip_after:
            self.failures.clear()
            return self.cooldown
        exponent = min(len(self.failures) - 1, 16)
        return random.uniform(0, min(self.cap, self.base * 2**exponent))

    def reset(self) -> None:
        self.failures.clear()


class ManagedSession:
    """One connection's transport, reconnected after a drop until stopped or logged out."""

    def __init__(self, connection_id: int, transport: Transport, on_event: Callable[[object], None]) -> None:
        self.connection_id = connection_id
        self.transport = transport
        self.on_event = on_event
        self.backoff = Backoff()
        self.stopping = threading.Event()
        self.logged_out = False
        self._reconnect_timer: threading.Timer | None = None

    def start(self) -> None:
        self._connect()

    def _connect(self) -> None:
        if self.stopping.is_set() or self.logged_out:
            return
        try:
            self.transport.connect(self._handle)
        except Exception as error:  # a failed connect is a disconnect: back off and try again
            logger.warning("connection %s failed to connect: %s", self.connection_id, error)
            self._handle(Disconnected(connection_id=self.connection_id, reason=f"connect failed: {error}"))

    def _handle(self, event) -> None:
        if isinstance(event, Connected):
            self.backoff.reset()
        elif isinstance(event, LoggedOut):
            self.logged_out = True
        elif isinstance(event, Disconnected) and not self.stopping.is_set():
            self._schedule_reconnect()
        self.on_event(event)

    def _schedule_reconnect(self) -> None:
        if self.logged_out:
            return
        delay = self.backoff.next_delay()
        logger.info("connection %s reconnects in %.1f s", self.connection_id, delay)
        self._reconnect_timer = threading.Timer(delay, self._connect)
        self._reconnect_timer.daemon = True
        self._reconnect_timer.start()

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | TransportError]:
        return self.transport.send_many(messages)

    def mark_read(self, chat: str, wa_ids: list[str], sender: str | None = None) -> None:
        self.transport.mark_read(chat, wa_ids, sender)

    def revoke(self, chat: str, wa_id: str) -> None:
        self.transport.revoke(chat, wa_id)

    def edit(self, chat: str, wa_id: str, body: str) -> None:
        self.transport.edit(chat, wa_id, body)

    def react(self, chat: str, wa_id: str, emoji: str, *, from_me: bool, sender: str | None = None) -> None:
        self.transport.react(chat, wa_id, emoji, from_me=from_me, sender=sender)

    def set_typing(self, chat: str, typing: bool, recording: bool = False) -> None:
        self.transport.set_typing(chat, typing, recording)

    def watch_presence(self, chat: str) -> None:
        self.transport.watch_presence(chat)

    def set_online(self, online: bool) -> None:
        self.transport.set_online(online)

    def on_whatsapp(self, numbers: list[str]) -> dict[str, bool]:
        return self.transport.on_whatsapp(numbers)

    def reject_call(self, chat: str, call_id: str) -> None:
        self.transport.reject_call(chat, call_id)

    def profile_picture(self, chat: str) -> ProfilePicture | None:
        return self.transport.profile_picture(chat)

    def group_subject(self, group: str) -> str | None:
        return self.transport.group_subject(group)

    def groups(self) -> list[GroupInfo]:
        return self.transport.groups()

    def group_info(self, group: str) -> GroupInfo:
        return self.transport.group_info(group)

    def create_group(self, subject: str, participants: list[str]) -> tuple[GroupInfo, dict[str, str]]:
        return self.transport.create_group(subject, participants)

    def update_participants(self, group: str, participants: list[str], action: str) -> dict[str, str]:
        return self.transport.update_participants(group, participants, action)

    def group_invite_link(self, group: str, reset: bool = False) -> str:
        return self.transport.group_invite_link(group, reset)

    def set_group_subject(self, group: str, subject: str) -> None:
        self.transport.set_group_subject(group, subject)

    def set_group_description(self, group: str, description: str) -> None:
        self.transport.set_group_description(group, description)

    def set_group_picture(self, group: str, jpeg: bytes) -> str | None:
        return self.transport.set_group_picture(group, jpeg)

    def set_group_announce(self, group: str, announce: bool) -> None:
        self.transport.set_group_announce(group, announce)

    def set_group_locked(self, group: str, locked: bool) -> None:
        self.transport.set_group_locked(group, locked)

    def leave_group(self, group: str) -> None:
        self.transport.leave_group(group)

    def address_book(self) -> list[AddressBookEntry]:
        return self.transport.address_book()

    def post_status(self, post: StatusPost) -> str:
        return self.transport.post_status(post)

    def set_blocked(self, chat: str, blocked: bool) -> None:
        self.transport.set_blocked(chat, blocked)

    def set_profile_name(self, name: str) -> None:
        self.transport.set_profile_name(name)

    def set_about(self, about: str) -> None:
        self.transport.set_about(about)

    def set_profile_picture(self, jpeg: bytes | None) -> str | None:
        return self.transport.set_profile_picture(jpeg)

    def logout(self) -> None:
        self.stopping.set()
        self.logged_out = True
        self.transport.logout()

    def stop(self) -> None:
        self.stopping.set()
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
        try:
            self.transport.disconnect()
        except Exception:  # stopping anyway; the reason is only worth a log line
            logger.exception("connection %s did not disconnect cleanly", self.connection_id)


class SessionRegistry:
    """The sessions this process holds, by connection id; `send_message` looks them up here."""

    def __init__(self) -> None:
        self._sessions: dict[int, ManagedSession] = {}
        self._lock = threading.Lock()

    def get(self, connection_id: int) -> ManagedSession | None:
        return self._sessions.get(connection_id)

    def start(self, connection_id: int, kind: str, on_event: Callable[[object], None], **options) -> ManagedSession:
        with self._lock:
            if connection_id in self._sessions:
                return self._sessions[connection_id]
            session = ManagedSession(connection_id, build_transport(kind, connection_id, **options), on_event)
            self._sessions[connection_id] = session
        session.start()
        return session

    def stop(self, connection_id: int) -> None:
        with self._lock:
            session = self._sessions.pop(connection_id, None)
        if session is not None:
            session.stop()


registry = SessionRegistry()
