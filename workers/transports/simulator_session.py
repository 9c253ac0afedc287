"""One simulated WhatsApp session (`workers/transports/simulator.py` is the network it talks to): sends go to
the network's outbox, once per WhatsApp id, with their receipts due later; a pump thread brings back what is
due (receipts in batches) and what users and tests asked of the network (its commands), as transport events.
"""

from __future__ import annotations

import base64
import colorsys
import dataclasses
import hashlib
import io
import json
import logging
import random
import secrets
import threading
import time
from typing import Any

import redis
from PIL import Image, ImageDraw

from wharf.media import MediaRejected, check_media, message_type_for
from wharf.voice_notes import is_voice_note
from workers.transports.base import (
    AddressBookEntry,
    Connected,
    ContactCard,
    ContactTyping,
    Disconnected,
    EventHandler,
    GroupChanged,
    IgnoresGroups,
    InboundBatch,
    InboundMessage,
    IncomingCall,
    Location,
    LoggedOut,
    MessageEdited,
    MessageReacted,
    MessageRevoked,
    OutgoingMessage,
    PairCode,
    Poll,
    PollVoted,
    ProfilePicture,
    QrCode,
    Receipt,
    StatusPost,
    TransportError,
    deterministic_wa_id,
    keeps_groups,
)
from workers.transports.simulator import configure, inject_inbound, key, read_config, session_number
from workers.transports.simulator_groups import SimulatorGroups

logger = logging.getLogger(__name__)

PUMP_SECONDS = 0.02
RECEIPT_BATCH = 5000
INBOUND_BATCH = 200

# Record a send once per WhatsApp id, with its receipts, in one atomic step.
RECORD_SEND = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
if tonumber(ARGV[4]) >= 0 then redis.call('ZADD', KEYS[3], ARGV[3] + ARGV[4], 'delivered|' .. ARGV[1]) end
if tonumber(ARGV[5]) >= 0 then redis.call('ZADD', KEYS[3], ARGV[3] + ARGV[5], 'read|' .. ARGV[1]) end
return 1
"""


# Move the oldest commands to `processing` in one atomic step: a run of up to ARGV[1] inbound
# messages, or one that carries a file, or one session control (each of these two alone, in its turn).
TAKE_COMMANDS = """
local taken = {}
while #taken < tonumber(ARGV[1]) do
  local raw = redis.call('LINDEX', KEYS[1], -1)
  if not raw then break end
  local command = cjson.decode(raw)
  local alone = command['op'] ~= 'inbound' or type(command['media']) == 'table'
  if #taken > 0 and alone then break end
  redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  taken[#taken + 1] = raw
  if alone then break end
end
return taken
"""


# Commands that are a contact's doing, not the session's.
CONTACT_OPS = ("inbound", "revoke", "edit", "react", "vote", "call", "group_change")


def refusal(config: dict[str, Any], to: str) -> TransportError | None:
    """Why the network refuses a send to `to` (digits), if it does."""
    if config["banned"]:
        return TransportError("the number is banned", permanent=True, reason_code="banned")
    if to in {n.lstrip("+") for n in config["notOnWhatsapp"]}:
        return TransportError(f"+{to} is not on WhatsApp", permanent=True, reason_code="not_on_whatsapp")
    if config["failRate"] and random.random() < config["failRate"]:
        return TransportError("simulated network failure")
    return None


def outbox_entry(message: OutgoingMessage, at: float) -> dict[str, Any]:
    """What the network keeps of a send: what the contact's phone shows, a location, contact card or poll with its
    fields."""
    poll, mimetype = message.poll, message.media["mimetype"] if message.media else None
    if message.location is not None:
        kind = "location"
    elif message.contact_card is not None:
        kind = "contact"
    elif poll is not None:
        kind = "poll"
    else:
        kind = message_type_for(mimetype) if mimetype else "text"
    return {
        "waId": message.wa_id,
        "to": message.to,
        "body": message.body,
        "type": kind,
        "mimetype": mimetype,
        "voiceNote": kind == "audio" and is_voice_note(mimetype),
        "quotedWaId": message.quoted_wa_id,
        "forwarded": message.forwarded,
        "location": dataclasses.asdict(message.location) if message.location else None,
        "contact": dataclasses.asdict(message.contact_card) if message.contact_card else None,
        "poll": {"name": poll.name, "options": list(poll.options), "selectableCount": poll.selectable_count}
        if poll else None,
        "at": at,
    }


def profile_picture_of(config: dict[str, Any], chat: str) -> ProfilePicture | None:
    """What the network shows as `chat`'s picture: the one configured (`profilePictures`: a URL, or None for none),
    else one drawn for it. A picture's id is its source's, so a new URL is a new picture."""
    configured = {number.lstrip("+"): url for number, url in config["profilePictures"].items()}
    if chat not in configured:
        return ProfilePicture(picture_id(chat), png=drawn_picture(chat))
    url = configured[chat]
    return ProfilePicture(picture_id(url), url=url) if url else None


def picture_id(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def drawn_picture(chat: str) -> bytes:
    """A small PNG avatar, the same every time: a light silhouette on a colour of the chat's own."""
    hue = int.from_bytes(hashlib.sha256(chat.encode()).digest()[:2]) / 0xFFFF
    colour = tuple(round(255 * part) for part in colorsys.hsv_to_rgb(hue, 0.5, 0.8))
    image = Image.new("RGB", (96, 96), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((30, 16, 66, 52), fill="white")  # the head
    draw.ellipse((14, 58, 82, 126), fill="white")  # the shoulders
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class SimulatorTransport(SimulatorGroups):
    """One simulated session: sends go to the network's outbox, a pump thread brings events back."""

    def __init__(self, connection_id: int, redis_url: str, pair_phone: str | None = None,
                 ignores_groups: IgnoresGroups = keeps_groups) -> None:
        self.connection_id = connection_id
        self.pair_phone = pair_phone
        self.ignores_groups = ignores_groups
        self.redis = redis.Redis.from_url(redis_url)
        self.record_send = self.redis.register_script(RECORD_SEND)
        self.take_commands = self.redis.register_script(TAKE_COMMANDS)
        self.on_event: EventHandler | None = None
        self.connected = False
        self.stopping = threading.Event()
        self.pump: threading.Thread | None = None

    @property
    def phone(self) -> str:
        return session_number(self.connection_id)

    # --- the session
    def connect(self, on_event: EventHandler) -> None:
        if self.pump is not None and self.pump is not threading.current_thread():
            self.pump.join(timeout=5)  # the previous session's pump has finished what it was doing
        self.on_event = on_event
        self.stopping.clear()
        # A new session: WhatsApp forgot what the last one watched, and shows the number offline until told.
        self.redis.delete(key(self.connection_id, "watched"), key(self.connection_id, "online"))
        config = read_config(self.redis, self.connection_id)
        if config["banned"]:
            self.emit(LoggedOut(self.connection_id, reason="banned"))
            return
        if config["requireQr"] and not self.redis.exists(key(self.connection_id, "paired")):
            self.ask_for_login()
        else:
            self.go_online()
        self.pump = threading.Thread(target=self.run_pump, name=f"sim-{self.connection_id}", daemon=True)
        self.pump.start()

    def ask_for_login(self) -> None:
        """A QR to scan, or a pair code to type on the phone when the connection asked for one."""
        self.connected = False
        if self.pair_phone:
            code = f"{secrets.randbelow(10**4):04d}-{secrets.randbelow(10**4):04d}"
            self.emit(PairCode(self.connection_id, code=code))
        else:
            self.emit(QrCode(self.connection_id, code=f"2@sim{self.connection_id},{secrets.token_urlsafe(24)}"))

    def go_online(self) -> None:
        self.redis.set(key(self.connection_id, "paired"), "1")
        self.connected = True
        self.emit(Connected(self.connection_id, phone=self.phone))

    def disconnect(self) -> None:
        self.stopping.set()
        self.connected = False
        if self.pump is not None and self.pump is not threading.current_thread():
            self.pump.join(timeout=5)

    def logout(self) -> None:
        self.redis.delete(key(self.connection_id, "paired"))
        self.disconnect()
        self.emit(LoggedOut(self.connection_id, reason="logged out by request"))

    def emit(self, event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # --- sending
    def send(self, message: OutgoingMessage) -> str:
        outcome = self.send_many([message])[0]
        if isinstance(outcome, TransportError):
            raise outcome
        return outcome

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | TransportError]:
        """The network's config read once, the sends recorded in one pipeline."""
        if not self.connected:
            return [TransportError("the simulated session is not connected")] * len(messages)
        config = read_config(self.redis, self.connection_id)
        outcomes: list[str | TransportError] = [refusal(config, message.to.lstrip("+")) or message.wa_id
                                                for message in messages]
        accepted = [message for message, outcome in zip(messages, outcomes, strict=True) if outcome == message.wa_id]
        now = time.time()
        keys = [key(self.connection_id, name) for name in ("seen", "outbox", "receipts")]
        with self.redis.pipeline(transaction=False) as pipe:
            for message in accepted:
                entry = outbox_entry(message, now)
                self.record_send(keys=keys, args=[message.wa_id, json.dumps(entry), int(now * 1000),
                                                  config["deliveredAfterMs"], config["readAfterMs"]], client=pipe)
            if accepted:  # a message takes "typing…" away on the phone that gets it
                pipe.hdel(key(self.connection_id, "typing"), *{message.to.lstrip("+") for message in accepted})
            recorded = pipe.execute()[:len(accepted)]
        if config["autoReply"]:
            for message, new in zip(accepted, recorded, strict=True):
                if new:
                    inject_inbound(self.redis, self.connection_id, message.to.lstrip("+"), config["autoReply"])
        return outcomes

    def require_connected(self) -> None:
        if not self.connected:
            raise TransportError("the simulated session is not connected")

    def require_received(self, wa_id: str) -> None:
        """The session is up and the network has our message `wa_id` (else a permanent TransportError)."""
        self.require_connected()
        if not self.redis.hexists(key(self.connection_id, "seen"), wa_id):
            raise TransportError(f"the network never received {wa_id}", permanent=True)

    def mark_read(self, chat: str, wa_ids: list[str], sender: str | None = None) -> None:
        """The contact's phone shows them read: kept once per message, in order, with when and, in a group, the
        member they went to (`read_receipts`)."""
        self.require_connected()
        with self.redis.pipeline(transaction=False) as pipe:
            for wa_id in wa_ids:
                pipe.hsetnx(key(self.connection_id, "read_by_us"), wa_id, chat)
            new = pipe.execute()
        now = time.time()
        entries = [json.dumps({"waId": wa_id, "chat": chat, "sender": sender, "at": now})
                   for wa_id, first in zip(wa_ids, new, strict=True) if first]
        if entries:
            self.redis.rpush(key(self.connection_id, "read_receipts"), *entries)

    def revoke(self, chat: str, wa_id: str) -> None:
        """The message disappears from the contact's phone: kept with when (`outbox`'s `revokedAt`)."""
        self.require_received(wa_id)
        self.redis.hsetnx(key(self.connection_id, "revoked"), wa_id, time.time())

    def edit(self, chat: str, wa_id: str, body: str) -> None:
        """The contact's phone shows the message's new text: kept with when (`outbox`'s `body` and `editedAt`)."""
        self.require_received(wa_id)
        self.redis.hset(key(self.connection_id, "edited"), wa_id, json.dumps({"body": body, "editedAt": time.time()}))

    def react(self, chat: str, wa_id: str, emoji: str, *, from_me: bool, sender: str | None = None) -> None:
        """The contact sees our reaction on the message, or none (`reactions`; in a group, with the member whose
        message it is)."""
        if from_me:
            self.require_received(wa_id)
        else:
            self.require_connected()
        if emoji:
            reaction = {"waId": wa_id, "chat": chat, "sender": sender, "emoji": emoji, "at": time.time()}
            self.redis.hset(key(self.connection_id, "reactions"), wa_id, json.dumps(reaction))
        else:
            self.redis.hdel(key(self.connection_id, "reactions"), wa_id)

    def set_typing(self, chat: str, typing: bool, recording: bool = False) -> None:
        """The contact's phone shows us typing or recording audio, or neither: kept per chat with when (`typing`)."""
        self.require_connected()
        state = {"typing": typing, "recording": typing and recording, "at": time.time()}
        self.redis.hset(key(self.connection_id, "typing"), chat, json.dumps(state))

    def watch_presence(self, chat: str) -> None:
        """The contact's typing reaches the session from now on (`watched`), online as WhatsApp wants it."""
        self.require_connected()
        self.redis.sadd(key(self.connection_id, "watched"), chat)
        self.redis.set(key(self.connection_id, "online"), 1)

    def set_online(self, online: bool) -> None:
        self.require_connected()
        self.redis.set(key(self.connection_id, "online"), int(online))

    def on_whatsapp(self, numbers: list[str]) -> dict[str, bool]:
        """Every number is on the simulated network but those configured `notOnWhatsapp`."""
        self.require_connected()
        absent = {number.lstrip("+") for number in read_config(self.redis, self.connection_id)["notOnWhatsapp"]}
        return {number: number not in absent for number in numbers}

    def profile_picture(self, chat: str) -> ProfilePicture | None:
        self.require_connected()
        return profile_picture_of(read_config(self.redis, self.connection_id), chat)

    def group_subject(self, group: str) -> str | None:
        """The subject last given for the group (`inject_inbound`); a group no member wrote from is none of ours."""
        self.require_connected()
        subject = self.redis.hget(key(self.connection_id, "groups"), group)
        if subject is None:
            raise TransportError(f"not in the group {group}", permanent=True, reason_code="not_in_group")
        return subject.decode() or None

    def reject_call(self, chat: str, call_id: str) -> None:
        """The caller's phone stops ringing: kept with when (`calls`' `rejectedAt`), the first time."""
        self.require_connected()
        call = self.redis.hget(key(self.connection_id, "calls"), call_id)
        if call is None or json.loads(call)["from"] != chat:
            raise TransportError(f"+{chat} made no call {call_id}", permanent=True)
        self.redis.hsetnx(key(self.connection_id, "rejected_calls"), call_id, time.time())

    def post_status(self, post: StatusPost) -> str:
        """The network keeps the Status (`statuses`), a file checked as a send's is."""
        self.require_connected()
        media = post.media
        if media is not None:
            try:
                check_media(media["data"], media["mimetype"])
            except MediaRejected as error:
                raise TransportError(f"not a Status WhatsApp takes: {error}", permanent=True) from error
        wa_id = deterministic_wa_id(self.connection_id, secrets.token_hex(16))
        self.redis.rpush(key(self.connection_id, "statuses"), json.dumps({
            "waId": wa_id, "type": message_type_for(media["mimetype"]) if media else "text", "text": post.text,
            "background": post.background, "font": post.font, "mimetype": media["mimetype"] if media else None,
            "size": len(media["data"]) if media else None, "at": time.time()}))
        return wa_id

    def address_book(self) -> list[AddressBookEntry]:
        self.require_connected()
        book = read_config(self.redis, self.connection_id)["addressBook"]
        return [AddressBookEntry(number.lstrip("+"), name or None) for number, name in sorted(book.items())]

    def set_blocked(self, chat: str, blocked: bool) -> None:
        """The network keeps the number on the session's blocklist (`blocklist`), or takes it off; a number that is
        not on it is refused for good, as a send to it is."""
        self.require_connected()
        failure = refusal(read_config(self.redis, self.connection_id), chat)
        if failure is not None:
            raise failure
        if blocked:
            self.redis.sadd(key(self.connection_id, "blocklist"), chat)
        else:
            self.redis.srem(key(self.connection_id, "blocklist"), chat)

    def set_profile_name(self, name: str) -> None:
        self.require_connected()
        self.redis.hset(key(self.connection_id, "profile"), "name", name)

    def set_about(self, about: str) -> None:
        self.require_connected()
        self.redis.hset(key(self.connection_id, "profile"), "about", about)

    def set_profile_picture(self, jpeg: bytes | None) -> str | None:
        """The network shows the picture (`profile`), its id drawn from its bytes, or none."""
        self.require_connected()
        if jpeg is None:
            self.redis.hdel(key(self.connection_id, "profile"), "picture", "pictureId")
            return None
        shown = hashlib.sha256(jpeg).hexdigest()[:16]
        self.redis.hset(key(self.connection_id, "profile"), mapping={"picture": jpeg, "pictureId": shown})
        return shown

    # --- the pump: receipts when due, commands when given
    def run_pump(self) -> None:
        self.requeue_unfinished_commands()
        while not self.stopping.is_set():
            try:
                busy = self.pump_receipts()
                busy = self.pump_command() or busy
            except redis.RedisError as error:
                logger.warning("simulator %s: %s", self.connection_id, error)
                busy = False
            if not busy:
                self.stopping.wait(PUMP_SECONDS)

    def pump_receipts(self) -> bool:
        if not self.connected:
            return False
        now_ms = int(time.time() * 1000)
        due = self.redis.zrangebyscore(key(self.connection_id, "receipts"), 0, now_ms, start=0, num=RECEIPT_BATCH)
        if not due:
            return False
        by_status: dict[str, list[str]] = {}
        for member in due:
            status, wa_id = member.decode().split("|", 1)
            by_status.setdefault(status, []).append(wa_id)
        for status in ("delivered", "read"):  # delivered first, as WhatsApp does
            if by_status.get(status):
                self.emit(Receipt(self.connection_id, wa_ids=tuple(by_status[status]), status=status,
                                  timestamp=time.time()))
        self.redis.zrem(key(self.connection_id, "receipts"), *due)
        return True

    def requeue_unfinished_commands(self) -> None:
        """Put what a crashed or failed pass had in hand back at the head of `commands`, oldest first."""
        while self.redis.lmove(key(self.connection_id, "processing"), key(self.connection_id, "commands"), "LEFT", "RIGHT"):
            pass

    def pump_command(self) -> bool:
        processing = key(self.connection_id, "processing")
        taken = self.take_commands(keys=[key(self.connection_id, "commands"), processing], args=[INBOUND_BATCH])
        if not taken:
            return False
        commands = [json.loads(raw) for raw in taken]
        if commands[0]["op"] not in CONTACT_OPS:  # session controls run at most once, what contacts do at least once
            self.redis.lrem(processing, 1, taken[0])
        try:
            self.run_commands(commands)
        except Exception:  # the handler could not take them (Redis down?): they come again next tick
            logger.exception("simulator %s: handling %s failed", self.connection_id, commands[0]["op"])
            self.requeue_unfinished_commands()
            return False
        if commands[0]["op"] in CONTACT_OPS:
            with self.redis.pipeline(transaction=False) as pipe:
                for raw, command in zip(taken, commands, strict=True):
                    pipe.lrem(processing, 1, raw)
                    if command.get("media"):  # the handler has the file now
                        pipe.hdel(key(self.connection_id, "media"), command["waId"])
                pipe.execute()
        return True

    def run_commands(self, commands: list[dict[str, Any]]) -> None:
        """One session control, or a run of inbound messages: one event for one, a batch for more."""
        if commands[0]["op"] != "inbound":
            self.run_command(commands[0])
            return
        if self.ignores_groups():  # dropped as they arrive, as a real session drops them
            commands = [command for command in commands if "group" not in command]
        messages = tuple(map(self.inbound_message, commands))
        if messages:
            self.emit(messages[0] if len(messages) == 1 else InboundBatch(self.connection_id, messages=messages))

    def inbound_message(self, command: dict[str, Any]) -> InboundMessage:
        """What a contact sent, in their chat or in a group (`group`), with its file fetched from the network as a
        phone downloads one (a file the network lost comes without its data, as a failed download does)."""
        media = command.get("media")
        data = self.redis.hget(key(self.connection_id, "media"), command["waId"]) if media else None
        return InboundMessage(
            self.connection_id, wa_id=command["waId"], chat=command.get("group") or command["phone"],
            sender=command["phone"], sender_name=command.get("name"), is_group="group" in command,
            body=command["body"], type=command.get("type", "text"),
            media={**media, "data": base64.b64encode(data).decode()} if data is not None else media,
            location=Location(**command["location"]) if command.get("location") else None,
            contact_card=ContactCard(**command["contact"]) if command.get("contact") else None,
            poll=Poll(**command["poll"]) if command.get("poll") else None,
            forwarded=bool(command.get("forwarded")),
            timestamp=command.get("at"),
        )

    def run_command(self, command: dict[str, Any]) -> None:
        op = command["op"]
        if op == "revoke":
            self.emit(MessageRevoked(self.connection_id, wa_id=command["waId"], chat=command["phone"]))
        elif op == "edit":
            self.emit(MessageEdited(self.connection_id, wa_id=command["waId"], chat=command["phone"], body=command["body"],
                                    timestamp=command["at"]))
        elif op == "react":
            self.emit(MessageReacted(self.connection_id, wa_id=command["waId"], chat=command["phone"],
                                     sender=command["phone"], emoji=command["emoji"], timestamp=command["at"]))
        elif op == "vote":
            self.emit(PollVoted(self.connection_id, wa_id=command["waId"], chat=command["phone"], sender=command["phone"],
                                option_hashes=tuple(command["optionHashes"]), timestamp=command["at"]))
        elif op == "call":
            self.emit(IncomingCall(self.connection_id, call_id=command["callId"], chat=command["from"],
                                   video=command["video"], timestamp=command["at"]))
        elif op == "contact_typing" and self.redis.sismember(key(self.connection_id, "watched"), command["phone"]):
            self.emit(ContactTyping(self.connection_id, chat=command["phone"], sender=command["phone"],
                                    typing=command["typing"], recording=command["recording"], timestamp=command["at"]))
        elif op == "group_change":
            self.emit(GroupChanged(self.connection_id, chat=command["group"], name=command["name"],
                                   members_changed=command["membersChanged"], timestamp=command["at"]))
        elif op == "disconnect":
            self.connected = False
            self.stopping.set()
            self.emit(Disconnected(self.connection_id, reason=command.get("reason") or "simulated disconnect"))
        elif op == "scan" and not self.connected:
            self.go_online()
        elif op == "qr":
            self.redis.delete(key(self.connection_id, "paired"))
            self.ask_for_login()
        elif op == "ban":
            configure(self.redis, self.connection_id, banned=True)
            self.connected = False
            self.stopping.set()
            self.emit(LoggedOut(self.connection_id, reason="banned"))

