"""The transport protocol: what the gateway asks of a WhatsApp session, and the events it gets back.

Every transport (the simulator, neonize) speaks these types and nothing else, so the gateway,
the actors and the tests never know which one is behind a connection. Events are plain frozen
dataclasses; `to_dict()` is what travels in a Dramatiq message, with `kind` saying which one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from wharf.phones import with_ninth_digit

LONGEST_TYPING_MS = 20_000  # the longest "typing…" before a message: WhatsApp shows it about 25 s unless told again


@dataclasses.dataclass(frozen=True)
class TransportEvent:
    kind: ClassVar[str] = "event"
    connection_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class InboundMessage(TransportEvent):
    """A message in a chat of the session: from a contact, or sent by the phone itself (`from_me`)."""

    kind: ClassVar[str] = "message"
    wa_id: str
    chat: str  # the contact's number in digits (no "+"), or the group's id for a group chat
    sender: str  # who wrote it: the chat itself, or a member of the group
    sender_name: str | None = None
    body: str = ""
    type: str = "text"  # text, image, audio, video, document, sticker, location, contact, poll, unsupported
    media: dict[str, Any] | None = None  # {"mimetype", "filename", "data": base64} when downloaded
    location: Location | None = None  # the place shared (type location; `body` says it in words)
    contact_card: ContactCard | None = None  # the card shared (type contact; `body` is its vCard), if it has a number
    poll: Poll | None = None  # the poll asked (type poll; `body` says it in words)
    quoted_wa_id: str | None = None
    forwarded: bool = False  # WhatsApp shows it as forwarded
    is_group: bool = False
    from_me: bool = False
    timestamp: float | None = None  # Unix seconds, when WhatsApp says it was sent


@dataclasses.dataclass(frozen=True)
class InboundBatch(TransportEvent):
    """Several messages a transport read at once (the simulator's backlog): the gateway hands them to
    the workers as one Dramatiq message. A transport that reads one at a time emits InboundMessage."""

    kind: ClassVar[str] = "message_batch"
    messages: tuple[InboundMessage, ...]


@dataclasses.dataclass(frozen=True)
class MessageRevoked(TransportEvent):
    """A contact deleted a message of theirs for everyone."""

    kind: ClassVar[str] = "revoked"
    wa_id: str
    chat: str


@dataclasses.dataclass(frozen=True)
class MessageEdited(TransportEvent):
    """A contact edited the text of a message of theirs (WhatsApp allows it for 15 minutes)."""

    kind: ClassVar[str] = "edited"
    wa_id: str
    chat: str
    body: str  # the text as it is now
    timestamp: float | None = None  # Unix seconds, when it was edited


@dataclasses.dataclass(frozen=True)
class MessageReacted(TransportEvent):
    """Someone in a chat reacted to a message with an emoji, or removed their reaction (an empty emoji)."""

    kind: ClassVar[str] = "reaction"
    wa_id: str  # the message reacted to, whoever wrote it
    chat: str
    sender: str  # who reacted: the chat itself, a member of the group, or our own phone (`from_me`)
    emoji: str
    from_me: bool = False
    timestamp: float | None = None  # Unix seconds, when the reaction was made


@dataclasses.dataclass(frozen=True)
class PollVoted(TransportEvent):
    """Someone in a chat voted on a poll, or changed their vote; no options chosen: they withdrew it. WhatsApp names
    the options by hash (`option_hash`): only the poll's options tell which they are."""

    kind: ClassVar[str] = "poll_vote"
    wa_id: str  # the poll, whoever asked it
    chat: str
    sender: str  # who voted: the chat itself, a member of the group, or our own phone (`from_me`)
    option_hashes: tuple[str, ...]  # the chosen options' `option_hash`es
    from_me: bool = False
    timestamp: float | None = None  # Unix seconds, when the vote was cast


@dataclasses.dataclass(frozen=True)
class IncomingCall(TransportEvent):
    """Someone rings the session's number (a voice or video call), which only a phone can answer."""

    kind: ClassVar[str] = "call"
    call_id: str
    chat: str  # the caller: their number in digits, or their full LID id when WhatsApp gives no number
    video: bool = False
    is_group: bool = False  # a group call, rung by `chat`
    timestamp: float | None = None  # Unix seconds, when the call began


@dataclasses.dataclass(frozen=True)
class ContactTyping(TransportEvent):
    """Someone in a chat the session watches (`watch_presence`) is typing, recording a voice note, or stopped: a
    moment's sign, which WhatsApp sends while they do and which no one stores."""

    kind: ClassVar[str] = "contact_typing"
    chat: str  # the contact's number in digits (or their full LID id), or the group's id
    sender: str  # who is typing: the chat itself, or a member of the group
    typing: bool  # False: they stopped (or never sent what they typed)
    timestamp: float  # Unix seconds, when the session heard it (WhatsApp gives no time)
    recording: bool = False  # typing=True and recording: "recording audio…"


@dataclasses.dataclass(frozen=True)
class GroupChanged(TransportEvent):
    """Someone changed a group the session is in: its subject (the group's name), who is in it or who are its
    admins (someone joined, left, was added, removed, promoted or demoted, the session's number included)."""

    kind: ClassVar[str] = "group_changed"
    chat: str  # the group's id
    name: str | None = None  # the subject as it is now; None: not changed
    members_changed: bool = False
    timestamp: float | None = None  # Unix seconds, when it was changed


@dataclasses.dataclass(frozen=True)
class Receipt(TransportEvent):
    """Messages we sent reached a status on the recipient's side, all at once."""

    kind: ClassVar[str] = "receipt"
    wa_ids: tuple[str, ...]
    status: str  # delivered, read, played
    chat: str | None = None
    timestamp: float | None = None


@dataclasses.dataclass(frozen=True)
class QrCode(TransportEvent):
    kind: ClassVar[str] = "qr"
    code: str  # the text to render as a QR code; a new one comes every ~20 s


@dataclasses.dataclass(frozen=True)
class PairCode(TransportEvent):
    kind: ClassVar[str] = "pair_code"
    code: str  # typed on the phone under "Link with phone number"


@dataclasses.dataclass(frozen=True)
class Connected(TransportEvent):
    kind: ClassVar[str] = "connected"
    phone: str | None = None  # the session's own number, in digits


@dataclasses.dataclass(frozen=True)
class Disconnected(TransportEvent):
    """The session dropped; the gateway reconnects with backoff."""

    kind: ClassVar[str] = "disconnected"
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class LoggedOut(TransportEvent):
    """The number was logged out (from the phone, banned): no reconnect until a new login."""

    kind: ClassVar[str] = "logged_out"
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Location:
    """A place shared in a chat: a pin on the map, with the place's name and address when known."""

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None

    def text(self) -> str:
        """The place in words, as a message's body keeps it: its name, its address, then its coordinates."""
        return "\n".join(filter(None, [self.name, self.address, f"{self.latitude},{self.longitude}"]))


@dataclasses.dataclass(frozen=True)
class ContactCard:
    """A contact shared in a chat: a card with their name and number, which WhatsApp shows with a button to
    message them (the vCard's `waid`)."""

    name: str
    phone: str  # E.164

    def vcard(self) -> str:
        """The card as WhatsApp's own clients write it (vCard 3.0, one line a property), its name escaped."""
        name = vcard_text(self.name)
        return "\n".join([
            "BEGIN:VCARD", "VERSION:3.0", f"N:;{name};;;", f"FN:{name}",
            f"TEL;type=CELL;type=VOICE;waid={self.phone.lstrip('+')}:{self.phone}", "END:VCARD",
        ])


@dataclasses.dataclass(frozen=True)
class Poll:
    """A question with options to vote on, as WhatsApp shows it: each person votes for up to `selectable_count` of
    the options (0: as many as they like), and may change their vote."""

    name: str
    options: tuple[str, ...]
    selectable_count: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))  # also when read back from JSON's list

    def text(self) -> str:
        """The poll in words, as a message's body keeps it: the question, then an option a line."""
        return "\n".join([self.name, *(f"○ {option}" for option in self.options)])


def option_hash(option: str) -> str:
    """How a vote names a poll's option: the SHA-256 of its text, in hex (WhatsApp sends the digest's bytes)."""
    return hashlib.sha256(option.encode()).hexdigest()


def vcard_text(value: str) -> str:
    """A vCard text value (RFC 2426): a backslash, comma or semicolon escaped and a line break written `\\n`, so that
    a name can neither end its property nor add one."""
    escaped = value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return escaped.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    to: str  # E.164 ("+5511...") for a contact, or a group id
    body: str  # a location's `text()`, a contact card's vCard
    wa_id: str  # chosen by us before the first attempt: a resend of the same id is dropped by WhatsApp
    media: dict[str, Any] | None = None  # {"mimetype", "filename", "data": bytes}
    quoted_wa_id: str | None = None
    location: Location | None = None  # a location, a contact card or a poll goes alone: no text, no media
    contact_card: ContactCard | None = None
    poll: Poll | None = None
    forwarded: bool = False  # shown as forwarded


@dataclasses.dataclass(frozen=True)
class ProfilePicture:
    """A chat's profile picture as WhatsApp shows it now. Its `id` changes when the picture does. The image is at
    `url` (WhatsApp's CDN: the link expires), or comes as `png` where the network has no CDN (the simulator)."""

    id: str
    url: str | None = None
    png: bytes | None = None


@dataclasses.dataclass(frozen=True)
class StatusPost:
    """A WhatsApp Status (a story) the number posts for its contacts to see for 24 hours: a text on a coloured
    background, or an image, a video or an audio with its caption (`text`)."""

    text: str = ""
    media: dict[str, Any] | None = None  # {"mimetype", "filename", "data": bytes}
    background: str = "#128C7E"  # a text's background, #rrggbb
    font: int = 0  # a text's typeface, as WhatsApp numbers them (0 to 7)


@dataclasses.dataclass(frozen=True)
class AddressBookEntry:
    """A contact the number's phone has saved: their number in digits (or WhatsApp's full id of one whose number it
    hides, "…@lid"), and the name it saved them by, or the name they gave WhatsApp; None: neither."""

    address: str
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class GroupParticipant:
    """A member of a group: by their number in digits, or WhatsApp's full id of one whose number it hides ("…@lid").
    The group's creator is its `superadmin` (an admin WhatsApp will not demote)."""

    address: str
    admin: bool = False
    superadmin: bool = False


@dataclasses.dataclass(frozen=True)
class GroupInfo:
    """A group the session is in, as WhatsApp shows it now."""

    id: str  # "120363012345678901@g.us"
    subject: str  # its name
    description: str = ""
    participants: tuple[GroupParticipant, ...] = ()
    owner: str | None = None  # who created it, as a participant's address
    created_at: float | None = None  # Unix seconds
    announce: bool = False  # only admins send messages
    locked: bool = False  # only admins change its subject, description and picture


PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
# What became of a participant in a group's change: done ("added", "removed", "promoted", "demoted"), or why not
# (WhatsApp answers each number apart).
PARTICIPANT_REFUSALS = ("not_on_whatsapp", "privacy", "recently_left", "already_in_group", "not_in_group", "failed")
PARTICIPANT_DONE = {"add": "added", "remove": "removed", "promote": "promoted", "demote": "demoted"}


class TransportError(Exception):
    """A send or a session call failed. `permanent` errors are not retried (bad number, banned)."""

    def __init__(self, message: str, *, permanent: bool = False, reason_code: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.reason_code = reason_code


EventHandler = Callable[[TransportEvent], None]
IgnoresGroups = Callable[[], bool]  # asked as each group message arrives: the number's `ignore_groups` now


def keeps_groups() -> bool:
    """A session that hands on its groups' messages (the default; the gateway says otherwise per connection)."""
    return False


class Transport(Protocol):
    """One WhatsApp session. Events arrive on the transport's own threads, through `on_event`."""

    connection_id: int

    def connect(self, on_event: EventHandler) -> None:
        """Start the session and return; QR/pair code, connected or disconnected events follow."""

    def disconnect(self) -> None:
        """End the session, keeping the login for the next connect."""

    def logout(self) -> None:
        """Unlink the device: the next connect needs a new QR or pair-code login."""

    def send(self, message: OutgoingMessage) -> str:
        """Send with `message.wa_id` (a text, media, a location, a contact card or a poll) and return it; raise
        TransportError when WhatsApp refuses."""

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | TransportError]:
        """Send several, in order (a batch of the gateway's): for each, what `send` returns or raises."""

    def mark_read(self, chat: str, wa_ids: list[str], sender: str | None = None) -> None:
        """Tell a contact (`chat`, the number in digits, or a group's id) that we read these messages of theirs:
        their blue ticks. In a group, WhatsApp wants the member who wrote them (`sender`, as
        `InboundMessage.sender` names them). Raise TransportError when the session cannot."""

    def revoke(self, chat: str, wa_id: str) -> None:
        """Delete our message `wa_id` for everyone in a contact's chat (`chat`, the number in digits). Raise
        TransportError when the session cannot (permanent when WhatsApp never will: too old, say)."""

    def edit(self, chat: str, wa_id: str, body: str) -> None:
        """Replace the text of our message `wa_id` in a contact's chat (`chat`, the number in digits) with `body`, on
        their phone. Raise TransportError when the session cannot (permanent when WhatsApp never will)."""

    def react(self, chat: str, wa_id: str, emoji: str, *, from_me: bool, sender: str | None = None) -> None:
        """React with `emoji` (empty: remove our reaction) to the message `wa_id` of a chat, ours (`from_me`) or
        theirs: WhatsApp names a message by whose it is, in a group by the member who wrote it (`sender`). Raise
        TransportError when the session cannot."""

    def set_typing(self, chat: str, typing: bool, recording: bool = False) -> None:
        """Show a contact (`chat`, the number in digits) that we are typing ("typing…" under our name), or recording
        a voice note ("recording audio…": `recording`), or that we stopped. Raise TransportError when the session
        cannot."""

    def watch_presence(self, chat: str) -> None:
        """Ask WhatsApp for a contact's typing (`chat`, the number in digits), as WhatsApp Web does when a chat is
        opened: `ContactTyping` events come for them until the session ends. Asked again, it changes nothing. WhatsApp
        tells it only to a session that is online: the number shows "online" from then on (`set_online`). Raise
        TransportError when the session cannot."""

    def set_online(self, online: bool) -> None:
        """The number shows "online" to its contacts, as an open WhatsApp Web makes it, or not ("last seen"): while a
        linked session is online, the phone's own app gets no notifications. Raise TransportError when the session
        cannot."""

    def on_whatsapp(self, numbers: list[str]) -> dict[str, bool]:
        """{number: whether it is on WhatsApp} for numbers in digits (no "+"); a number WhatsApp did not answer for
        is left out. A TransportError when WhatsApp cannot be asked."""

    def profile_picture(self, chat: str) -> ProfilePicture | None:
        """The profile picture of a chat (`chat`: a number in digits, or a group's id), in full size; None when it
        has none or hides it from us. A TransportError when WhatsApp cannot be asked."""

    def group_subject(self, group: str) -> str | None:
        """The subject (the name) of a group the session is in (`group`: its id, "…@g.us"); None when it has none. A
        TransportError when WhatsApp cannot be asked, permanent for a group we are not in (or that is gone)."""

    def reject_call(self, chat: str, call_id: str) -> None:
        """Decline the call `call_id` that `chat` (as `IncomingCall.chat` names the caller) is ringing us with: it
        stops ringing on their side. Raise TransportError when the session cannot (permanent for a call WhatsApp
        does not know)."""

    def post_status(self, post: StatusPost) -> str:
        """Post a Status for the number's contacts (as its privacy settings choose them); WhatsApp's id of it. A
        TransportError when the session cannot."""

    def address_book(self) -> list[AddressBookEntry]:
        """The contacts the number's phone has saved (and those WhatsApp told the session the names of). A
        TransportError when the session cannot say."""

    def set_blocked(self, chat: str, blocked: bool) -> None:
        """Block a contact (`chat`, the number in digits) on WhatsApp, or unblock them: done twice, it changes nothing
        more. Raise TransportError when the session cannot (permanent for a number not on WhatsApp)."""

    def set_profile_name(self, name: str) -> None:
        """Show `name` as the number's own name (its push name) to those it writes to. A TransportError when the
        session cannot."""

    def set_about(self, about: str) -> None:
        """Set the number's "about" text. A TransportError when the session cannot."""

    def set_profile_picture(self, jpeg: bytes | None) -> str | None:
        """Set the number's own profile picture (a square JPEG), or remove it (None); WhatsApp's id of the picture
        now shown, None for none. A TransportError when the session cannot (permanent where it never will)."""

    # Groups (`group`: its id, "…@g.us"; a participant: a number in digits, or a full "…@lid" id). Each raises a
    # TransportError when WhatsApp cannot be asked: permanent for a group we are not in or that is gone
    # ("not_in_group"), or a change only its admins may make ("not_admin").
    def groups(self) -> list[GroupInfo]:
        """The groups the session is in."""

    def group_info(self, group: str) -> GroupInfo:
        """One group the session is in."""

    def create_group(self, subject: str, participants: list[str]) -> tuple[GroupInfo, dict[str, str]]:
        """A new group of ours (we are its superadmin) with those participants WhatsApp let in; and, for each one
        asked for, what became of them ("added", or a PARTICIPANT_REFUSALS)."""

    def update_participants(self, group: str, participants: list[str], action: str) -> dict[str, str]:
        """Add, remove, promote to admin or demote (`action`, a PARTICIPANT_ACTIONS) the participants; for each,
        what became of them (PARTICIPANT_DONE's for the action, or a PARTICIPANT_REFUSALS)."""

    def group_invite_link(self, group: str, reset: bool = False) -> str:
        """The link that lets anyone join ("https://chat.whatsapp.com/…"); `reset`: a new one, the old one dead."""

    def set_group_subject(self, group: str, subject: str) -> None:
        """Rename the group."""

    def set_group_description(self, group: str, description: str) -> None:
        """Change the group's description (empty: none)."""

    def set_group_picture(self, group: str, jpeg: bytes) -> str | None:
        """Show `jpeg` (a square JPEG) as the group's picture; WhatsApp's id of it. Anyone in the group, but only
        admins of a locked one."""

    def set_group_announce(self, group: str, announce: bool) -> None:
        """Only admins send messages in the group (`announce`), or everyone; an admin's change."""

    def set_group_locked(self, group: str, locked: bool) -> None:
        """Only admins change the group's subject, description and picture (`locked`), or everyone; an admin's
        change."""

    def leave_group(self, group: str) -> None:
        """Leave the group: its messages no longer come."""


def send_each(transport: Transport, messages: list[OutgoingMessage]) -> list[str | TransportError]:
    """`send_many` for a transport whose sends go one by one anyway (a real session's do)."""
    outcomes: list[str | TransportError] = []
    for message in messages:
        try:
            outcomes.append(transport.send(message))
        except TransportError as error:
            outcomes.append(error)
    return outcomes


def e164_or_id(address: str) -> str:
    """A person or chat as a transport names them (a number in digits, or WhatsApp's full id of a group or of one whose
    number it hides, "…@lid") as Wharf keeps them: a number in E.164 (a Brazilian mobile with its ninth digit, as
    `to_e164` reads one), an id as it is."""
    return address if "@" in address else with_ninth_digit(f"+{address.lstrip('+')}")


def group_id(raw: str) -> str:
    """A group's id as WhatsApp writes it ("120363012345678901@g.us"; an old group's "5511987654321-1600000000@g.us"),
    from itself or from its part before the "@"; a ValueError for anything else."""
    user = raw.strip().removesuffix("@g.us")
    if not re.fullmatch(r"\d{5,30}(-\d{5,20})?", user):
        raise ValueError(f"{raw!r} is no group id: digits (120363012345678901), with or without @g.us")
    return f"{user}@g.us"


def deterministic_wa_id(connection_id: int, key: str) -> str:
    """A WhatsApp-shaped message id ("3EB0" + hex, like WhatsApp Web's) derived from `key`."""
    digest = hashlib.sha256(f"{connection_id}:{key}".encode()).hexdigest()
    return "3EB0" + digest[:20].upper()
