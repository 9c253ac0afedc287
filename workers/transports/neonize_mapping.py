"""neonize's (whatsmeow's) events, addresses and errors in Wharf's terms: pure functions, testable without a phone.

Addresses: a contact is its number in digits ("5511987654321"); a group is its full id
("120363012345678901@g.us"); a contact WhatsApp only names by its LID, with no phone number beside
it, keeps the full LID ("123456789@lid"). An `OutgoingMessage.to` of either form reaches the same chat.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlparse, urlunparse

from neonize.events import (
    CallOfferEv,
    ChatPresenceEv,
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    GroupInfoEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    QREv,
    ReceiptEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import JID, ConnectFailureReason
from neonize.proto.Neonize_pb2 import Contact as WAContact
from neonize.proto.Neonize_pb2 import GroupInfo as WAGroupInfo
from neonize.proto.Neonize_pb2 import GroupParticipant as WAGroupParticipant
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ContactMessage,
    ContactsArrayMessage,
    ContextInfo,
    ExtendedTextMessage,
    LocationMessage,
    MessageContextInfo,
    PollCreationMessage,
    PollVoteMessage,
    ProtocolMessage,
    ReactionMessage,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message as WAMessage
from neonize.utils.jid import build_jid

from workers.transports.base import (
    PARTICIPANT_DONE,
    AddressBookEntry,
    Connected,
    ContactCard,
    ContactTyping,
    Disconnected,
    GroupChanged,
    GroupInfo,
    GroupParticipant,
    InboundMessage,
    IncomingCall,
    Location,
    LoggedOut,
    MessageEdited,
    MessageReacted,
    MessageRevoked,
    Poll,
    PollVoted,
    QrCode,
    Receipt,
    StatusPost,
    TransportError,
    TransportEvent,
)
from workers.transports.vcards import contact_card_from_vcard

PHONE_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"
CHAT_SERVERS = (PHONE_SERVER, GROUP_SERVER, LID_SERVER)  # not status@broadcast, newsletters, broadcast lists

# The message's parts that hold media, each with the Wharf message type it is received as; a video note (the round
# video) is a video in a part of its own.
MEDIA_PARTS = {
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
# The versions of a poll a contact's app may send, each a PollCreationMessage (V4 wraps one more level: not read,
# but said in words, UNSUPPORTED_KINDS).
POLL_PARTS = ("pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3", "pollCreationMessageV5",
              "pollCreationMessageV6")
# What a person sees on their phone that Wharf does not show, as it says it in words (type `unsupported`). A message
# with none of these nor anything read above is protocol or system traffic (key exchanges, pins, keep-in-chat,
# votes, a bare messageContextInfo...), and no message. Not here: a call's log (calls are recorded from their offer,
# workers/calls.py), an album (its photos and videos come as messages of their own), a comment on a community's
# announcement (not in the chat).
UNSUPPORTED_KINDS = {
    "eventMessage": "📅 An event",
    "productMessage": "📦 A product",
    "orderMessage": "🛒 An order",
    "invoiceMessage": "🧾 An invoice",
    "groupInviteMessage": "👥 An invitation to a group",
    "newsletterAdminInviteMessage": "📣 An invitation to a channel",
    "newsletterFollowerInviteMessageV2": "📣 An invitation to a channel",
    "listMessage": "📋 A list to choose from",
    "buttonsMessage": "🔘 A message with buttons",
    "templateMessage": "🔘 A message with buttons",
    "interactiveMessage": "🔘 A message with buttons",
    "highlyStructuredMessage": "💼 A business template message",
    "paymentInviteMessage": "💳 An invitation to WhatsApp payments",
    "requestPaymentMessage": "💳 A payment request",
    "sendPaymentMessage": "💳 A payment",
    "stickerPackMessage": "🗂️ A sticker pack",
    "pollCreationMessageV4": "📊 A poll",
    "pollResultSnapshotMessage": "📊 A poll's results",
    "pollResultSnapshotMessageV3": "📊 A poll's results",
    "scheduledCallCreationMessage": "📅 A scheduled call",
}
UNSUPPORTED_HINT = "open WhatsApp on the phone to see it"
MESSAGE_SECRET_BYTES = 32  # whatsmeow's: the key a poll's voters encrypt their votes with
RECEIPT_STATUSES = {ReceiptEv.DELIVERED: "delivered", ReceiptEv.READ: "read", ReceiptEv.PLAYED: "played"}

# whatsmeow's errors that retrying cannot cure, by our reason code.
PERMANENT_SEND_ERRORS = {
    "invalid_jid": (
        "can't send message to unknown server",
        "message recipient must be a user jid",
        "sending to non-status broadcast lists",
        "phone number too short",
        "international phone number required",
    ),
    "not_in_group": ("you're not participating in that group", "that group does not exist"),
}
# whatsmeow's errors about a group that retrying cannot cure, by our reason code
GROUP_REFUSALS = {
    "not_in_group": (*PERMANENT_SEND_ERRORS["not_in_group"], "item-not-found"),
    "not_admin": ("not-authorized", "forbidden"),
}
PARTICIPANT_ERRORS = {403: "privacy", 408: "recently_left", 409: "already_in_group"}
# After these the message may or may not have reached WhatsApp: it is never sent again.
OUTCOME_UNKNOWN_ERRORS = ("timed out waiting for message send response",)


# --- the session store
def session_store(database_url: str) -> str:
    """What neonize takes as its database for a Wharf DATABASE_URL: the PostgreSQL URL as lib/pq reads it, or
    the SQLite file's absolute path, escaped for the `file:<path>?_foreign_keys=on` URI neonize makes of it."""
    parsed = urlparse(database_url)
    if parsed.scheme in ("postgres", "postgresql"):
        options = parse_qsl(parsed.query)
        if not any(name == "sslmode" for name, _ in options):
            options.append(("sslmode", "prefer"))  # lib/pq insists on TLS unless told; psycopg2 prefers it
        return urlunparse(parsed._replace(query=urlencode(options)))
    if parsed.scheme == "sqlite":
        path = database_url.removeprefix("sqlite:///")
        if not path or path == ":memory:":
            raise ValueError("a WhatsApp session needs a database that outlives the process, not :memory:")
        return quote(str(Path(path).resolve()), safe="/")
    raise ValueError(f"unsupported DATABASE_URL scheme {parsed.scheme!r} for a neonize session")


# --- addresses
def address(jid: JID, alternative: JID | None = None) -> str:
    """A chat or a person as Wharf keeps it; a LID gives way to the phone number WhatsApp sent beside it."""
    if jid.Server == LID_SERVER and alternative is not None and alternative.Server == PHONE_SERVER and alternative.User:
        jid = alternative
    return jid.User if jid.Server == PHONE_SERVER else f"{jid.User}@{jid.Server}"


def recipient_jid(to: str) -> JID:
    """The JID for an `OutgoingMessage.to`: a group or LID id as given, or a phone number (with or without "+").
    Every field set (`build_jid`): neonize serializes the JIDs it hands to whatsmeow, and a JID missing one of
    its required fields does not serialize."""
    user, _, server = to.strip().lstrip("+").partition("@")
    if server:
        if server not in CHAT_SERVERS or not user:
            raise TransportError(f"{to!r} is not a WhatsApp chat", permanent=True, reason_code="invalid_jid")
        return build_jid(user, server)
    digits = user.replace(" ", "").replace("-", "")
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise TransportError(f"{to!r} is not a phone number", permanent=True, reason_code="invalid_jid")
    return build_jid(digits)


def jid_text(jid: JID) -> str:
    """A JID as whatsmeow writes it ("5511987654321:12@s.whatsapp.net"), device included."""
    device = f":{jid.Device}" if jid.Device else ""
    return f"{jid.User}{device}@{jid.Server}"


def seconds(timestamp: int) -> float | None:
    """Unix seconds from a neonize timestamp, which is in milliseconds for messages and seconds for receipts."""
    if not timestamp:
        return None
    return timestamp / 1000 if timestamp > 10**11 else float(timestamp)


# --- messages we receive
@dataclasses.dataclass(frozen=True)
class Content:
    """What a chat message says, as an `InboundMessage` keeps it."""

    body: str  # the text, a caption, the place in words, the vCards
    type: str
    context: ContextInfo | None = None  # a reply's quote
    media: dict | None = None  # {"mimetype", "filename"}, to download
    location: Location | None = None
    contact_card: ContactCard | None = None
    poll: Poll | None = None


def message_content(message: WAMessage) -> Content | None:
    """What a WhatsApp message says (a kind Wharf does not show, in words: `unsupported`), or None for what is not a
    chat message (reactions, revokes, edits, votes, protocol messages)."""
    if message.HasField("extendedTextMessage"):
        return Content(message.extendedTextMessage.text, "text", message.extendedTextMessage.contextInfo)
    if message.HasField("conversation"):
        return Content(message.conversation, "text")
    for field, kind in MEDIA_PARTS.items():
        if message.HasField(field):
            part = getattr(message, field)
            media = {"mimetype": part.mimetype or None, "filename": getattr(part, "fileName", "") or None}
            return Content(getattr(part, "caption", ""), kind, part.contextInfo, media=media)
    for field in ("locationMessage", "liveLocationMessage"):
        if message.HasField(field):
            part = getattr(message, field)  # a live location has no name or address
            place = Location(part.degreesLatitude, part.degreesLongitude, getattr(part, "name", "") or None,
                             getattr(part, "address", "") or None)
            return Content(place.text(), "location", part.contextInfo, location=place)
    if message.HasField("contactMessage"):
        part = message.contactMessage
        return Content(part.vcard, "contact", part.contextInfo,
                       contact_card=contact_card_from_vcard(part.vcard, part.displayName))
    if message.HasField("contactsArrayMessage"):
        return shared_contacts(message.contactsArrayMessage)
    for field in POLL_PARTS:
        if message.HasField(field):
            part = getattr(message, field)
            poll = Poll(part.name, tuple(option.optionName for option in part.options), part.selectableOptionsCount)
            return Content(poll.text(), "poll", part.contextInfo, poll=poll)
    answer = menu_answer(message)
    return unsupported(message) if answer is None else Content(answer[0], "text", answer[1])


def shared_contacts(part: ContactsArrayMessage) -> Content:
    """Several cards sent at once: one message whose body holds every vCard; its structured card is the first that
    has a number (a message keeps one)."""
    cards = (contact_card_from_vcard(contact.vcard, contact.displayName) for contact in part.contacts)
    return Content("\n".join(contact.vcard for contact in part.contacts), "contact", part.contextInfo,
                   contact_card=next(filter(None, cards), None))


def menu_answer(message: WAMessage) -> tuple[str, ContextInfo] | None:
    """The option a contact chose from buttons or a list: the text of a queue menu answer."""
    if message.HasField("buttonsResponseMessage"):
        part = message.buttonsResponseMessage
        return part.selectedDisplayText or part.selectedButtonID, part.contextInfo
    if message.HasField("templateButtonReplyMessage"):
        part = message.templateButtonReplyMessage
        return part.selectedDisplayText or part.selectedID, part.contextInfo
    if message.HasField("listResponseMessage"):
        part = message.listResponseMessage
        return part.title or part.singleSelectReply.selectedRowID, part.contextInfo
    return None


def unsupported(message: WAMessage) -> Content | None:
    """A kind of message Wharf does not show, said in words with the quote its part carries; None for what is no
    message (`UNSUPPORTED_KINDS`)."""
    for field, what in UNSUPPORTED_KINDS.items():
        if message.HasField(field):
            part = getattr(message, field)
            context = part.contextInfo if "contextInfo" in part.DESCRIPTOR.fields_by_name else None
            return Content(f"{what} — {UNSUPPORTED_HINT}", "unsupported", context)
    return None


def media_size(message: WAMessage) -> int:
    """The size WhatsApp announces for the message's media, in bytes (0 when it has none)."""
    for field in MEDIA_PARTS:
        if message.HasField(field):
            return getattr(message, field).fileLength
    return 0


def downloadable(message: WAMessage) -> WAMessage:
    """The message as whatsmeow's DownloadAny reads its media: a video note, which it does not know, as the video
    it is (the same keys)."""
    return WAMessage(videoMessage=message.ptvMessage) if message.HasField("ptvMessage") else message


MessageChange = MessageRevoked | MessageEdited | MessageReacted


def chat_of(event: MessageEv) -> str | None:
    """The chat a message is in, as Wharf keeps it; None for what is no chat of ours (status updates, newsletters)."""
    source = event.Info.MessageSource
    if source.Chat.Server not in CHAT_SERVERS:
        return None
    # In a chat with one person the other side's phone number comes as the sender's or the recipient's alternative.
    chat_alternative = None if source.IsGroup else (source.RecipientAlt if source.IsFromMe else source.SenderAlt)
    return address(source.Chat, chat_alternative)


def inbound_message(connection_id: int, event: MessageEv) -> InboundMessage | MessageChange | None:
    source, chat = event.Info.MessageSource, chat_of(event)
    if chat is None:
        return None
    if event.Message.HasField("protocolMessage") or event.Message.HasField("reactionMessage"):
        return message_change(connection_id, event, chat)
    content = message_content(event.Message)
    if content is None:
        return None
    return InboundMessage(
        connection_id,
        wa_id=event.Info.ID,
        chat=chat,
        sender=address(source.Sender, source.SenderAlt),
        sender_name=None if source.IsFromMe else (event.Info.Pushname or None),
        body=content.body,
        type=content.type,
        media=content.media,
        location=content.location,
        contact_card=content.contact_card,
        poll=content.poll,
        quoted_wa_id=(content.context.stanzaID or None) if content.context is not None else None,
        forwarded=content.context is not None and content.context.isForwarded,
        is_group=source.IsGroup,
        from_me=source.IsFromMe,
        timestamp=seconds(event.Info.Timestamp),
    )


def message_change(connection_id: int, event: MessageEv, chat: str) -> MessageChange | None:
    """What someone did to a message of the chat: reacted to it (anyone, our own phone included), or, a contact to
    a message of theirs, deleted it for everyone or edited it (whatsmeow unwraps an edit to its protocol message).
    What our own phone deletes or edits is left alone."""
    source, message = event.Info.MessageSource, event.Message
    if message.HasField("reactionMessage"):
        reaction = message.reactionMessage
        return MessageReacted(connection_id, wa_id=reaction.key.ID, chat=chat,
                              sender=address(source.Sender, source.SenderAlt), emoji=reaction.text,
                              from_me=source.IsFromMe,
                              timestamp=seconds(reaction.senderTimestampMS) or seconds(event.Info.Timestamp))
    protocol = message.protocolMessage
    if source.IsFromMe:
        return None
    if protocol.type == ProtocolMessage.REVOKE:
        return MessageRevoked(connection_id, wa_id=protocol.key.ID, chat=chat)
    content = message_content(protocol.editedMessage) if protocol.type == ProtocolMessage.MESSAGE_EDIT else None
    if content is not None:  # the text or caption as it is now
        return MessageEdited(connection_id, wa_id=protocol.key.ID, chat=chat, body=content.body,
                             timestamp=seconds(protocol.timestampMS) or seconds(event.Info.Timestamp))
    return None


def is_poll_vote(event) -> bool:
    """A vote on a poll, which only the session can read (`poll_vote`): it comes encrypted with the poll's secret."""
    return isinstance(event, MessageEv) and event.Message.HasField("pollUpdateMessage")


def poll_vote(connection_id: int, event: MessageEv, vote: PollVoteMessage) -> PollVoted | None:
    """A vote on a poll of the chat (anyone's, our own phone's included), its options as the session decrypted them
    (whatsmeow's DecryptPollVote): by hash, which only the poll's options tell apart."""
    chat = chat_of(event)
    if chat is None:
        return None
    source, update = event.Info.MessageSource, event.Message.pollUpdateMessage
    return PollVoted(connection_id, wa_id=update.pollCreationMessageKey.ID, chat=chat,
                     sender=address(source.Sender, source.SenderAlt),
                     option_hashes=tuple(option.hex() for option in vote.selectedOptions), from_me=source.IsFromMe,
                     timestamp=seconds(update.senderTimestampMS) or seconds(event.Info.Timestamp))


# --- calls
def incoming_call(connection_id: int, event: CallOfferEv) -> IncomingCall:
    """A call offer (the `<offer>` node in `data`): its caller, by the number beside a hidden one; video when the
    offer has a video part; in a group when the offer names the group (`group-jid`) or says so (`type`)."""
    meta, offer = event.basicCallMeta, event.data
    return IncomingCall(
        connection_id,
        call_id=meta.callID,
        chat=address(meta.callCreator, meta.callCreatorAlt),
        video=any(part.Tag == "video" for part in offer.Nodes),
        is_group=any(a.name == "group-jid" or (a.name == "type" and a.text == "group") for a in offer.Attrs),
        timestamp=seconds(meta.timestamp),
    )


# --- typing
def chat_presence(connection_id: int, event: ChatPresenceEv) -> ContactTyping | None:
    """A contact typing in their chat, or a member in a group (whatsmeow's chat state, which carries no time: the
    moment it came is when); "recording audio…" is typing with the audio medium. None for what is no chat of ours."""
    source = event.MessageSource
    if source.Chat.Server not in CHAT_SERVERS:
        return None
    typing = event.State == ChatPresenceEv.COMPOSING
    return ContactTyping(
        connection_id,
        chat=address(source.Chat, None if source.IsGroup else source.SenderAlt),
        sender=address(source.Sender, source.SenderAlt),
        typing=typing,
        recording=typing and event.Media == ChatPresenceEv.AUDIO,
        timestamp=time.time(),
    )


# --- groups
def group_info(connection_id: int, event: GroupInfoEv) -> GroupChanged | None:
    """A change to a group we are in that Wharf keeps: its new subject (the group's name), or its members and admins;
    None for the others (its description, settings, invite link)."""
    name = event.Name.Name if event.HasField("Name") else ""
    members_changed = bool(event.Join or event.Leave or event.Promote or event.Demote)
    if not name and not members_changed:
        return None
    return GroupChanged(connection_id, chat=address(event.JID), name=name or None, members_changed=members_changed,
                        timestamp=seconds(event.Timestamp))


def group_failure(error: str, doing: str = "read the group") -> TransportError:
    """A whatsmeow error about a group as a TransportError: permanent for a group we are not in, or that is gone, and
    for a change only its admins may make (WhatsApp's "not-authorized" or "forbidden" answer)."""
    reason_code = refusal_code(error, GROUP_REFUSALS)
    return TransportError(f"could not {doing}: {error}", permanent=reason_code is not None, reason_code=reason_code)


def refusal_code(error: str, refusals: dict[str, tuple[str, ...]]) -> str | None:
    """Our reason code for a whatsmeow error that retrying cannot cure (one of `refusals`' texts in it), else None."""
    lowered = error.lower()
    return next((code for code, texts in refusals.items() if any(text in lowered for text in texts)), None)


def address_book_of(contacts: Iterable[WAContact], own: str | None) -> list[AddressBookEntry]:
    """The session's contact store as an address book: the name the phone saved each by (full, first, or a
    business's name), else the name they gave WhatsApp; the number itself left out."""
    entries = []
    for contact in contacts:
        info = contact.Info
        name = info.FullName or info.FirstName or info.BusinessName or info.PushName or None
        who = address(contact.JID)
        if who != own:
            entries.append(AddressBookEntry(who, name))
    return entries


def group_of(info: WAGroupInfo) -> GroupInfo:
    """A group as whatsmeow describes it, with its members: a participant WhatsApp refused (a new group's, with an
    `Error`) is none."""
    return GroupInfo(
        id=address(info.JID), subject=info.GroupName.Name, description=info.GroupTopic.Topic,
        participants=tuple(GroupParticipant(address(member.JID, member.PhoneNumber),
                                            admin=member.IsAdmin or member.IsSuperAdmin, superadmin=member.IsSuperAdmin)
                           for member in info.Participants if not member.Error),
        owner=address(info.OwnerJID, info.OwnerPN) if info.OwnerJID.User else None,
        created_at=seconds(info.GroupCreated), announce=info.GroupAnnounce.IsAnnounce, locked=info.GroupLocked.isLocked,
    )


def participant_outcomes(action: str, answered: Iterable[WAGroupParticipant], asked: dict[str, JID]) -> dict[str, str]:
    """What became of each participant asked for (`asked`: {participant: the JID WhatsApp knows them by}) in a change
    of the group's participants (`action`, or "add" for a new group's), from WhatsApp's answer for each (`answered`:
    an `Error` code, none when done); one it did not answer for: "failed"."""
    by_address = {address(jid): participant for participant, jid in asked.items()}
    outcomes = dict.fromkeys(asked, "failed")
    for member in answered:
        who = address(member.JID, member.PhoneNumber)
        if who in by_address:
            outcomes[by_address[who]] = participant_outcome(action, member.Error)
    return outcomes


def participant_outcome(action: str, code: int) -> str:
    """A participant's outcome from WhatsApp's code for them (HTTP-like: 403 their privacy settings refuse, 408 they
    left lately, 409 already a member; 404: not on WhatsApp when added, not a member otherwise)."""
    if code in (0, 200):
        return PARTICIPANT_DONE[action]
    if code == 404:
        return "not_on_whatsapp" if action == "add" else "not_in_group"
    return PARTICIPANT_ERRORS.get(code, "failed")


# --- messages we send
def text_message(body: str, context: ContextInfo | None = None) -> WAMessage:
    if context is None:
        return WAMessage(conversation=body)
    return WAMessage(extendedTextMessage=ExtendedTextMessage(text=body, contextInfo=context))


def status_text_message(post: StatusPost) -> WAMessage:
    """A text Status as WhatsApp's apps post one: white letters on the background colour, in the typeface chosen."""
    return WAMessage(extendedTextMessage=ExtendedTextMessage(
        text=post.text, textArgb=0xFFFFFFFF, backgroundArgb=0xFF000000 | int(post.background.lstrip("#"), 16),
        font=post.font))


def location_message(place: Location, context: ContextInfo | None = None) -> WAMessage:
    return WAMessage(locationMessage=LocationMessage(
        degreesLatitude=place.latitude, degreesLongitude=place.longitude, name=place.name, address=place.address,
        contextInfo=context))


def contact_message(card: ContactCard, context: ContextInfo | None = None) -> WAMessage:
    """A contact card, its vCard ours (`ContactCard.vcard`): neonize's `send_contact` escapes nothing."""
    return WAMessage(contactMessage=ContactMessage(displayName=card.name, vcard=card.vcard(), contextInfo=context))


def poll_message(poll: Poll, context: ContextInfo | None = None) -> WAMessage:
    """A poll, as whatsmeow's BuildPollCreation makes one: with a secret of its own, which the voters' phones encrypt
    their votes with and whatsmeow keeps to decrypt them. Built here: neonize's `build_poll_vote_creation` lets a
    person choose one option or any number, not two or three."""
    return WAMessage(
        pollCreationMessage=PollCreationMessage(
            name=poll.name, options=[PollCreationMessage.Option(optionName=option) for option in poll.options],
            selectableOptionsCount=poll.selectable_count, contextInfo=context),
        messageContextInfo=MessageContextInfo(messageSecret=secrets.token_bytes(MESSAGE_SECRET_BYTES)))


def message_key(chat: JID, wa_id: str, from_me: bool, participant: JID | None = None) -> MessageKey:
    """How WhatsApp names a message of a chat: by its id and whether it is ours (`fromMe`, as the side that sends
    the key sees it), and in a group, a member's by the member who wrote it (`participant`)."""
    return MessageKey(remoteJID=jid_text(chat), fromMe=from_me, ID=wa_id,
                      participant=jid_text(participant) if participant is not None else None)


def revocation_message(chat: JID, wa_id: str) -> WAMessage:
    """Deletes our message `wa_id` for everyone. Built here: neonize's `revoke_message` takes "ours" from an empty
    sender's number, which is never our own, and would ask WhatsApp to delete the contact's message."""
    return WAMessage(protocolMessage=ProtocolMessage(type=ProtocolMessage.REVOKE, key=message_key(chat, wa_id, True)))


def reaction_message(chat: JID, wa_id: str, emoji: str, from_me: bool, participant: JID | None = None) -> WAMessage:
    """Our reaction to a message of a chat (an empty emoji removes it); a group member's names them
    (`participant`). Built here, as neonize's `build_reaction` tells ours from theirs by comparing JIDs, which we
    know without."""
    return WAMessage(reactionMessage=ReactionMessage(key=message_key(chat, wa_id, from_me, participant), text=emoji,
                                                     senderTimestampMS=int(time.time() * 1000)))


def quote_context(stanza_id: str, participant: JID | None) -> ContextInfo:
    """A reply's reference to the quoted message: its WhatsApp id and who wrote it (others' clients need both)."""
    return ContextInfo(stanzaID=stanza_id, participant=jid_text(participant) if participant is not None else None)


def send_failure(error: str) -> TransportError:
    """A whatsmeow send error as a TransportError: permanent when retrying cannot help."""
    if any(text in error.lower() for text in OUTCOME_UNKNOWN_ERRORS):
        return outcome_unknown(error)
    reason_code = refusal_code(error, PERMANENT_SEND_ERRORS)
    return TransportError(error, permanent=reason_code is not None, reason_code=reason_code)


def outcome_unknown(detail: str) -> TransportError:
    return TransportError(
        f"an earlier attempt may have reached WhatsApp ({detail}); not sent again, to never deliver twice",
        permanent=True, reason_code="outcome_unknown",
    )


# --- session events
def reason_name(value: int) -> str:
    return ConnectFailureReason.Name(value).lower().replace("_", " ") if value else "unknown reason"


def receipt(connection_id: int, event: ReceiptEv) -> Receipt | None:
    status = RECEIPT_STATUSES.get(event.Type)
    if status is None or not event.MessageIDs:
        return None
    source = event.MessageSource
    return Receipt(connection_id, wa_ids=tuple(event.MessageIDs), status=status,
                   chat=address(source.Chat, None if source.IsGroup else source.SenderAlt),
                   timestamp=seconds(event.Timestamp))


def pair_status(connection_id: int, event: PairStatusEv) -> Disconnected | None:
    """A failed pairing ends this login attempt; a successful one is followed by Connected."""
    if event.Status == PairStatusEv.ERROR:
        return Disconnected(connection_id, reason=f"pairing failed: {event.Error}")
    return None


def temporary_ban(connection_id: int, event: TemporaryBanEv) -> LoggedOut:
    """A ban is not retried (reconnecting while banned risks a longer one); the session is kept for afterwards."""
    why = TemporaryBanEv.TempBanReason.Name(event.Code).lower().replace("_", " ") if event.Code else "no reason given"
    return LoggedOut(connection_id, reason=f"banned by WhatsApp for {event.Expire} s ({why})")


EVENT_MAPPINGS = {
    MessageEv: inbound_message,
    ReceiptEv: receipt,
    CallOfferEv: incoming_call,
    ChatPresenceEv: chat_presence,
    GroupInfoEv: group_info,
    QREv: lambda cid, event: QrCode(cid, code=event.Codes[0]) if event.Codes else None,
    PairStatusEv: pair_status,
    ConnectedEv: lambda cid, event: Connected(cid),  # the transport adds the session's number
    DisconnectedEv: lambda cid, event: Disconnected(cid, reason="the connection to WhatsApp dropped"),
    StreamReplacedEv: lambda cid, event: Disconnected(
        cid, reason="another client connected with this session (stream replaced)"),
    ConnectFailureEv: lambda cid, event: Disconnected(
        cid, reason=f"WhatsApp refused the connection: {reason_name(event.Reason)} {event.Message}".strip()),
    LoggedOutEv: lambda cid, event: LoggedOut(cid, reason=f"logged out by WhatsApp: {reason_name(event.Reason)}"),
    TemporaryBanEv: temporary_ban,
    ClientOutdatedEv: lambda cid, event: LoggedOut(
        cid, reason="WhatsApp refuses this client version: upgrade neonize, then start the connection"),
}


def map_event(connection_id: int, event) -> TransportEvent | None:
    """The Wharf event for a neonize event, or None for one Wharf has no use for."""
    mapping = EVENT_MAPPINGS.get(type(event))
    return mapping(connection_id, event) if mapping is not None else None

