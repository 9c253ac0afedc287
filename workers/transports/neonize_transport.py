"""Real WhatsApp through neonize: whatsmeow (Go) in a shared library, running on its own threads.

The session (keys, device identity) lives in the project's database, in whatsmeow's own
`whatsmeow_*` tables, one device per connection. A connection finds its device by the number it
last connected with (`Connection.phone`, recorded from the Connected event); without one it
pairs a new device, by QR or, when the connection has a `pair_phone`, by a pair code.

WhatsApp message ids: neonize 0.5.2's SendMessage gives whatsmeow no `SendRequestExtra.ID`, so
WhatsApp's id is whatsmeow's random one, not `OutgoingMessage.wa_id`. `send` returns the id
WhatsApp knows (receipts and quotes use it), and does not send the same `wa_id` twice while
this transport lives.

Calls: whatsmeow rejects a call by its creator's JID exactly as the offer gave it (a hidden number's
LID, say), so the transport keeps the creators of the latest offers by call id.
"""

from __future__ import annotations

import base64
import ctypes
import dataclasses
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from io import BytesIO
from typing import TypeVar

from neonize.client import ClientFactory, NewClient
from neonize.events import EVENT_TO_INT
from neonize.exc import NeonizeError
from neonize.proto import Neonize_pb2 as neonize_proto
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContextInfo,
    DocumentMessage,
    ImageMessage,
    Message,
    StickerMessage,
    VideoMessage,
)
from neonize.utils.enum import (
    BlocklistAction,
    ChatPresence,
    ChatPresenceMedia,
    MediaType,
    ParticipantChange,
    Presence,
    ReceiptType,
)
from neonize.utils.jid import build_jid
from PIL import Image

from wharf.media import MAX_BYTES, message_type_for
from wharf.voice_notes import is_voice_note
from workers.transports.base import (
    AddressBookEntry,
    Connected,
    Disconnected,
    EventHandler,
    GroupInfo,
    IgnoresGroups,
    InboundMessage,
    IncomingCall,
    LoggedOut,
    OutgoingMessage,
    PairCode,
    PollVoted,
    ProfilePicture,
    QrCode,
    StatusPost,
    TransportError,
    TransportEvent,
    keeps_groups,
    send_each,
)
from workers.transports.neonize_mapping import (
    PHONE_SERVER,
    address_book_of,
    contact_message,
    downloadable,
    group_failure,
    group_of,
    is_poll_vote,
    location_message,
    map_event,
    media_size,
    participant_outcomes,
    poll_message,
    poll_vote,
    quote_context,
    reaction_message,
    recipient_jid,
    revocation_message,
    send_failure,
    session_store,
    status_text_message,
    text_message,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

STATUS_BROADCAST_ADDRESS = "status@broadcast"
STATUS_BROADCAST = build_jid("status", "broadcast")
SENT_IDS_KEPT = 10_000
CALLERS_KEPT = 1_000
# whatsmeow's ErrProfilePictureNotSet and ErrProfilePictureUnauthorized: no picture to show us, either way
NO_PICTURE = ("does not have a profile picture", "has hidden their profile picture")
UPLOAD_KINDS = {"image": MediaType.MediaImage, "sticker": MediaType.MediaImage, "video": MediaType.MediaVideo,
                "audio": MediaType.MediaAudio}


def jpeg_thumbnail(data: bytes) -> bytes:
    """A small JPEG preview, which WhatsApp shows until the image is downloaded."""
    image = Image.open(BytesIO(data))
    image.thumbnail((200, 200))
    out = BytesIO()
    image.convert("RGB").save(out, format="JPEG")
    return out.getvalue()


def build_message(message: OutgoingMessage, upload=None) -> Message:
    """WhatsApp's protobuf for our message; `upload` is neonize's UploadResponse for its media.

    Media are built here rather than with neonize's `build_*_message`, which need ffmpeg for video
    and audio (duration, thumbnail) and guess the type from the bytes; WhatsApp plays both without.
    """
    context = quote_context(message.quoted_wa_id, None) if message.quoted_wa_id else None
    if message.forwarded:  # as WhatsApp's apps mark a message forwarded once
        context = context or ContextInfo()
        context.isForwarded, context.forwardingScore = True, 1
    if message.location is not None:
        return location_message(message.location, context)
    if message.contact_card is not None:
        return contact_message(message.contact_card, context)
    if message.poll is not None:
        return poll_message(message.poll, context)
    if message.media is None:
        return text_message(message.body, context)
    mimetype = message.media["mimetype"]
    stored = {
        "URL": upload.url, "directPath": upload.DirectPath, "mediaKey": upload.MediaKey,
        "fileEncSHA256": upload.FileEncSHA256, "fileSHA256": upload.FileSHA256, "fileLength": upload.FileLength,
        "mimetype": mimetype, "mediaKeyTimestamp": int(time.time()), "contextInfo": context,
    }
    kind, caption = message_type_for(mimetype), message.body or None
    if kind == "image":
        thumbnail = jpeg_thumbnail(message.media["data"])
        return Message(imageMessage=ImageMessage(caption=caption, JPEGThumbnail=thumbnail, **stored))
    if kind == "sticker":
        return Message(stickerMessage=StickerMessage(**stored))
    if kind == "video":
        return Message(videoMessage=VideoMessage(caption=caption, **stored))
    if kind == "audio":  # an Ogg/Opus file is a voice note; other audio is a file to play
        return Message(audioMessage=AudioMessage(PTT=is_voice_note(mimetype), **stored))
    filename = message.media.get("filename") or "file"
    return Message(documentMessage=DocumentMessage(caption=caption, fileName=filename, title=filename, **stored))


def with_media(event: InboundMessage, data: bytes | None) -> InboundMessage:
    """The inbound message with its downloaded media inline (base64), when it is within our limit."""
    if event.media is None or data is None or len(data) > MAX_BYTES:
        return event
    return dataclasses.replace(event, media={**event.media, "data": base64.b64encode(data).decode()})


def device_of_phone(database: str, phone: str | None) -> neonize_proto.JID | None:
    """The stored device (a linked session) of this number, if whatsmeow has one."""
    if not phone:
        return None
    for device in ClientFactory.get_all_devices_from_db(database):
        user, _, agent = device.JID.User.partition(":")  # neonize leaves the device number in User
        if user == phone.lstrip("+") and device.JID.Server == PHONE_SERVER:
            return neonize_proto.JID(User=user, Device=int(agent or 0), Server=PHONE_SERVER, IsEmpty=False)
    return None


def connection_phone(connection_id: int) -> str | None:
    from db.base import database
    from db.connections import Connection

    with database.connection_context():
        connection = Connection.get_or_none(Connection.id == connection_id)
    return connection.phone if connection else None


class SessionClient(NewClient):
    """neonize's client, with the login status (QR timed out, login failed) passed on instead of printed."""

    on_login_status = None

    def _NewClient__onLoginStatus(self, uuid: int, status: int) -> None:  # noqa: N802 - neonize's mangled name
        if self.on_login_status is not None:
            self.on_login_status(ctypes.string_at(status).decode())


class NeonizeTransport:
    """One WhatsApp session through neonize's synchronous client."""

    def __init__(self, connection_id: int, database: str, pair_phone: str | None = None,
                 ignores_groups: IgnoresGroups = keeps_groups) -> None:
        self.connection_id = connection_id
        self.ignores_groups = ignores_groups
        self.database = session_store(database)
        self.pair_phone = pair_phone.lstrip("+") if pair_phone else None
        self.on_event: EventHandler | None = None
        self.client: SessionClient | None = None
        self.runner: threading.Thread | None = None
        self.pair_code_asked = False
        self.online = False
        self.sent: OrderedDict[str, str] = OrderedDict()  # our wa_id -> WhatsApp's id
        self.known_jids: dict[str, neonize_proto.JID] = {}  # numbers WhatsApp confirmed, by digits
        self.callers: OrderedDict[str, neonize_proto.JID] = OrderedDict()  # call id -> its creator, as offered
        self.lock = threading.Lock()

    # --- the session
    def connect(self, on_event: EventHandler) -> None:
        self.on_event = on_event
        self.stop_client()
        device = device_of_phone(self.database, connection_phone(self.connection_id))
        # A unique name per client: neonize stops a client by name when an old one is collected.
        client = SessionClient(self.database, uuid=f"wharf-{self.connection_id}-{secrets.token_hex(4)}")
        client.jid, client.new_device = device, device is None
        client.qr(self.on_qr)
        client.on_login_status = self.on_login_status
        for kind in (neonize_proto.Message, neonize_proto.Receipt, neonize_proto.CallOffer, neonize_proto.ChatPresence,
                     neonize_proto.GroupInfoEvent, neonize_proto.Connected, neonize_proto.Disconnected,
                     neonize_proto.StreamReplaced, neonize_proto.LoggedOut, neonize_proto.TemporaryBan,
                     neonize_proto.ClientOutdated, neonize_proto.ConnectFailure, neonize_proto.PairStatus):
            client.event.list_func[EVENT_TO_INT[kind]] = self.on_neonize_event
        self.client, self.pair_code_asked = client, False
        self.runner = threading.Thread(target=self.run_client, args=(client,), daemon=True,
                                       name=f"neonize-{self.connection_id}")
        self.runner.start()

    def run_client(self, client: SessionClient) -> None:
        """neonize's connect blocks until the client is stopped; a failure to start is a disconnect."""
        try:
            client.connect()
        except Exception as error:  # the Go side could not open the store or the socket
            logger.warning("connection %s: neonize stopped: %s", self.connection_id, error)
            if client is self.client:
                self.emit(Disconnected(self.connection_id, reason=f"session failed: {error}"))

    def stop_client(self) -> None:
        client, self.client, self.online = self.client, None, False
        if client is not None:
            client.stop()
        if self.runner is not None and self.runner is not threading.current_thread():
            self.runner.join(timeout=10)

    def disconnect(self) -> None:
        self.stop_client()

    def logout(self) -> None:
        if self.client is not None:
            try:
                self.client.logout()  # whatsmeow unlinks the device and deletes it from the store
            except NeonizeError as error:
                logger.warning("connection %s: logout: %s", self.connection_id, error)
        self.stop_client()
        self.emit(LoggedOut(self.connection_id, reason="logged out by request"))

    def emit(self, event: TransportEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # --- neonize's callbacks (on its threads)
    def on_qr(self, client: NewClient, code: bytes) -> None:
        if not self.pair_phone:
            self.emit(QrCode(self.connection_id, code=code.decode()))
        elif not self.pair_code_asked:  # whatsmeow pairs by code once the socket is up, i.e. at the first QR
            self.pair_code_asked = True
            threading.Thread(target=self.ask_pair_code, args=(client,), daemon=True).start()

    def ask_pair_code(self, client: NewClient) -> None:
        try:
            self.emit(PairCode(self.connection_id, code=client.PairPhone(self.pair_phone, True)))
        except NeonizeError as error:
            self.emit(Disconnected(self.connection_id, reason=f"pair code refused: {error}"))

    def on_login_status(self, status: str) -> None:
        if status != "success":  # "timeout" (nobody scanned), "err-…": a new attempt shows a new code
            threading.Thread(target=self.end_login, args=(status,), daemon=True).start()

    def end_login(self, status: str) -> None:
        self.stop_client()
        self.emit(Disconnected(self.connection_id, reason=f"login {status}"))

    def on_neonize_event(self, client: NewClient, event) -> None:
        if (isinstance(event, neonize_proto.Message) and event.Info.MessageSource.IsGroup
                and self.ignores_groups()):
            return  # nothing of it is kept: not even its file is fetched
        media = None
        if isinstance(event, neonize_proto.Message) and 0 < media_size(event.Message) <= MAX_BYTES:
            try:
                media = client.download_any(downloadable(event.Message))
            except NeonizeError as error:  # the message still counts, without its file
                logger.warning("connection %s: media of %s not downloaded: %s", self.connection_id, event.Info.ID,
                               error)
        mapped = self.decrypted_vote(client, event) if is_poll_vote(event) else map_event(self.connection_id, event)
        if isinstance(mapped, IncomingCall):
            self.remember_caller(mapped.call_id, event.basicCallMeta.callCreator)
        if isinstance(mapped, InboundMessage):
            mapped = with_media(mapped, media)
        if isinstance(mapped, Connected):
            mapped = Connected(self.connection_id, phone=self.own_phone(client))
        if isinstance(mapped, Connected | Disconnected | LoggedOut):
            self.online = isinstance(mapped, Connected)
        if mapped is not None:
            self.emit(mapped)

    def decrypted_vote(self, client: NewClient, event: neonize_proto.Message) -> PollVoted | None:
        """A vote, decrypted with its poll's secret, which whatsmeow keeps of the polls it sent or received; one on a
        poll from before the session was linked cannot be read, and is left out."""
        try:
            vote = client.decrypt_poll_vote(event)
        except NeonizeError as error:
            logger.warning("connection %s: vote %s not decrypted: %s", self.connection_id, event.Info.ID, error)
            return None
        return poll_vote(self.connection_id, event, vote)

    def remember_caller(self, call_id: str, creator: neonize_proto.JID) -> None:
        with self.lock:
            self.callers[call_id] = creator
            while len(self.callers) > CALLERS_KEPT:
                self.callers.popitem(last=False)

    @staticmethod
    def own_phone(client: NewClient) -> str | None:
        try:
            return client.get_me().JID.User.partition(":")[0] or None
        except NeonizeError:
            return None

    # --- sending
    def send(self, message: OutgoingMessage) -> str:
        with self.lock:
            if message.wa_id in self.sent:
                return self.sent[message.wa_id]  # WhatsApp has it: a retry must not deliver it again
        client = self.online_client()
        to = recipient_jid(message.to)  # a TransportError (permanent) for what is no WhatsApp address
        if to.Server == PHONE_SERVER:
            to = self.whatsapp_jid(client, to.User)
        try:
            upload = None
            if message.media is not None:
                kind = UPLOAD_KINDS.get(message_type_for(message.media["mimetype"]), MediaType.MediaDocument)
                upload = client.upload(message.media["data"], kind)
            response = client.send_message(to, build_message(message, upload))
        except NeonizeError as error:
            raise send_failure(str(error)) from error
        with self.lock:
            self.sent[message.wa_id] = response.ID
            while len(self.sent) > SENT_IDS_KEPT:
                self.sent.popitem(last=False)
        return response.ID

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | TransportError]:
        return send_each(self, messages)

    def mark_read(self, chat: str, wa_ids: list[str], sender: str | None = None) -> None:
        client, jid = self.online_chat(chat)
        try:  # whatsmeow: the sender is the chat's own JID but in a group, where it is the member who wrote them
            client.mark_read(*wa_ids, chat=jid, sender=recipient_jid(sender) if sender else jid,
                             receipt=ReceiptType.READ)
        except NeonizeError as error:
            raise TransportError(f"could not mark messages read: {error}") from error

    def revoke(self, chat: str, wa_id: str) -> None:
        self.send_to_chat(chat, "delete the message", lambda client, jid: client.send_message(
            jid, revocation_message(jid, wa_id)))

    def edit(self, chat: str, wa_id: str, body: str) -> None:
        self.send_to_chat(chat, "edit the message", lambda client, jid: client.edit_message(
            jid, wa_id, text_message(body)))

    def react(self, chat: str, wa_id: str, emoji: str, *, from_me: bool, sender: str | None = None) -> None:
        participant = recipient_jid(sender) if sender else None
        self.send_to_chat(chat, "react to the message", lambda client, jid: client.send_message(
            jid, reaction_message(jid, wa_id, emoji, from_me, participant)))

    def set_typing(self, chat: str, typing: bool, recording: bool = False) -> None:
        state = ChatPresence.CHAT_PRESENCE_COMPOSING if typing else ChatPresence.CHAT_PRESENCE_PAUSED
        media = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO if recording else ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT
        self.send_to_chat(chat, "show that we are typing", lambda client, jid: client.send_chat_presence(
            jid, state, media))

    def watch_presence(self, chat: str) -> None:
        """Online first: WhatsApp tells a contact's typing only to a session that is (the number shows "online" to
        its contacts from then on, as it does while WhatsApp Web is open)."""
        def watch(client: NewClient, jid: neonize_proto.JID) -> None:
            client.send_presence(Presence.AVAILABLE)
            client.subscribe_presence(jid)

        self.send_to_chat(chat, "watch the contact's typing", watch)

    def set_online(self, online: bool) -> None:
        client = self.online_client()
        try:
            client.send_presence(Presence.AVAILABLE if online else Presence.UNAVAILABLE)
        except NeonizeError as error:
            raise TransportError(f"could not show the number {'online' if online else 'offline'}: {error}") from error

    def send_to_chat(self, chat: str, doing: str, send: Callable[[NewClient, neonize_proto.JID], object]) -> None:
        """`send(client, jid)` on the connected client, for the JID WhatsApp knows the contact's chat by."""
        client, jid = self.online_chat(chat)
        try:
            send(client, jid)
        except NeonizeError as error:
            raise TransportError(f"could not {doing}: {error}") from error

    def reject_call(self, chat: str, call_id: str) -> None:
        client = self.online_client()
        with self.lock:  # a call offered before this transport started is rejected by the caller's address
            caller = self.callers.get(call_id) or recipient_jid(chat)
        try:
            client.reject_call(caller, call_id)
        except NeonizeError as error:
            raise TransportError(f"could not reject the call: {error}") from error

    def post_status(self, post: StatusPost) -> str:
        """To whatsmeow's status broadcast, which sends it to the contacts the number's Status privacy chooses."""
        def post_it(client: NewClient) -> str:
            if post.media is None:
                return client.send_message(STATUS_BROADCAST, status_text_message(post)).ID
            kind = UPLOAD_KINDS.get(message_type_for(post.media["mimetype"]), MediaType.MediaImage)
            upload = client.upload(post.media["data"], kind)
            captioned = OutgoingMessage(STATUS_BROADCAST_ADDRESS, post.text, "", media=post.media)
            return client.send_message(STATUS_BROADCAST, build_message(captioned, upload)).ID

        return self.ask_client("post the Status", post_it)

    def address_book(self) -> list[AddressBookEntry]:
        return self.ask_client("read the address book", lambda client: address_book_of(
            client.contact.get_all_contacts(), self.own_phone(client)))

    def set_blocked(self, chat: str, blocked: bool) -> None:
        action = BlocklistAction.BLOCK if blocked else BlocklistAction.UNBLOCK
        self.send_to_chat(chat, f"{action.value} the contact", lambda client, jid: client.update_blocklist(jid, action))

    def set_profile_name(self, name: str) -> None:
        """whatsmeow sends the push name as an app-state setting, which the number's other devices take too."""
        self.ask_client("set the profile name", lambda client: client.set_profile_name(name))

    def set_about(self, about: str) -> None:
        self.ask_client("set the about text", lambda client: client.set_status_message(about))

    def set_profile_picture(self, jpeg: bytes | None) -> str | None:
        """neonize 0.5.2 hands whatsmeow an empty picture, never none, so it cannot remove one: that is refused."""
        if jpeg is None:
            raise TransportError("neonize cannot remove the profile picture: remove it on the phone", permanent=True,
                                 reason_code="unsupported")
        return self.ask_client("set the profile picture", lambda client: client.set_profile_photo(jpeg)) or None

    def ask_client(self, doing: str, ask: Callable[[NewClient], T]) -> T:
        """`ask(client)` of the connected client, a refusal a TransportError."""
        client = self.online_client()
        try:
            return ask(client)
        except NeonizeError as error:
            raise TransportError(f"could not {doing}: {error}") from error

    def online_client(self) -> NewClient:
        client = self.client
        if client is None or not self.online:
            raise TransportError("the WhatsApp session is not connected")
        return client

    def online_chat(self, chat: str) -> tuple[NewClient, neonize_proto.JID]:
        """The connected client and the JID WhatsApp knows the contact's chat by."""
        client = self.online_client()
        jid = recipient_jid(chat)
        return client, self.whatsapp_jid(client, jid.User) if jid.Server == PHONE_SERVER else jid

    def on_whatsapp(self, numbers: list[str]) -> dict[str, bool]:
        """Asked of WhatsApp in one query; the numbers found are remembered by the JID WhatsApp knows them by."""
        client = self.online_client()
        try:
            answers = client.is_on_whatsapp(*(f"+{number}" for number in numbers))
        except NeonizeError as error:
            raise TransportError(f"could not check numbers on WhatsApp: {error}") from error
        found: dict[str, bool] = {}
        for answer in answers:  # each names the number as asked ("+5511..."), found or not
            number = "".join(filter(str.isdigit, answer.Query))
            found[number] = answer.IsIn
            if answer.IsIn:
                self.known_jids[number] = answer.JID
        return found

    def profile_picture(self, chat: str) -> ProfilePicture | None:
        client, jid = self.online_chat(chat)
        try:
            info = client.get_profile_picture(jid, neonize_proto.GetProfilePictureParams(Preview=False))
        except NeonizeError as error:
            if any(reason in str(error) for reason in NO_PICTURE):
                return None
            raise TransportError(f"could not get the profile picture: {error}") from error
        return ProfilePicture(info.ID, url=info.URL) if info.URL else None

    def group_subject(self, group: str) -> str | None:
        return self.group_info(group).subject or None

    def groups(self) -> list[GroupInfo]:
        client = self.online_client()
        try:
            joined = client.get_joined_groups()
        except NeonizeError as error:
            raise group_failure(str(error), "list the groups") from error
        return [group_of(info) for info in joined]

    def group_info(self, group: str) -> GroupInfo:
        return group_of(self.on_group(group, "read the group", lambda client, jid: client.get_group_info(jid)))

    def create_group(self, subject: str, participants: list[str]) -> tuple[GroupInfo, dict[str, str]]:
        jids, outcomes = self.participant_jids(participants)
        client = self.online_client()
        try:
            info = client.create_group(subject, list(jids.values()))
        except NeonizeError as error:
            raise group_failure(str(error), "create the group") from error
        outcomes |= participant_outcomes("add", info.Participants, jids)
        return group_of(info), {participant: outcomes[participant] for participant in participants}

    def update_participants(self, group: str, participants: list[str], action: str) -> dict[str, str]:
        jids, outcomes = self.participant_jids(participants)
        if jids:
            answered = self.on_group(group, f"{action} participants", lambda client, jid: (
                client.update_group_participants(jid, list(jids.values()), ParticipantChange(action))))
            outcomes |= participant_outcomes(action, answered, jids)
        return {participant: outcomes[participant] for participant in participants}

    def group_invite_link(self, group: str, reset: bool = False) -> str:
        return self.on_group(group, "get the invite link", lambda client, jid: client.get_group_invite_link(jid, reset))

    def set_group_subject(self, group: str, subject: str) -> None:
        self.on_group(group, "rename the group", lambda client, jid: client.set_group_name(jid, subject))

    def set_group_description(self, group: str, description: str) -> None:
        """whatsmeow reads the description's current id itself (`previous_id` empty) and makes the new one's."""
        self.on_group(group, "change the group's description", lambda client, jid: client.set_group_topic(
            jid, "", "", description))

    def set_group_picture(self, group: str, jpeg: bytes) -> str | None:
        return self.on_group(group, "change the group's picture", lambda client, jid: client.set_group_photo(
            jid, jpeg)) or None

    def set_group_announce(self, group: str, announce: bool) -> None:
        self.on_group(group, "change who sends in the group", lambda client, jid: client.set_group_announce(
            jid, announce))

    def set_group_locked(self, group: str, locked: bool) -> None:
        self.on_group(group, "change who edits the group", lambda client, jid: client.set_group_locked(jid, locked))

    def leave_group(self, group: str) -> None:
        self.on_group(group, "leave the group", lambda client, jid: client.leave_group(jid))

    def on_group(self, group: str, doing: str, call: Callable[[NewClient, neonize_proto.JID], T]) -> T:
        """`call(client, jid)` on the connected client for the group, a refusal a TransportError (`group_failure`)."""
        client, jid = self.online_chat(group)
        try:
            return call(client, jid)
        except NeonizeError as error:
            raise group_failure(str(error), doing) from error

    def participant_jids(self, participants: list[str]) -> tuple[dict[str, neonize_proto.JID], dict[str, str]]:
        """{participant: the JID WhatsApp knows them by}, the numbers asked of WhatsApp in one query; and
        {participant: "not_on_whatsapp"} for the numbers it does not know."""
        numbers = [participant for participant in participants if "@" not in participant]
        found = self.on_whatsapp(numbers) if numbers else {}
        jids: dict[str, neonize_proto.JID] = {}
        absent: dict[str, str] = {}
        for participant in participants:
            if found.get(participant) is False:
                absent[participant] = "not_on_whatsapp"
            else:
                jids[participant] = self.known_jids.get(participant) or recipient_jid(participant)
        return jids, absent

    def whatsapp_jid(self, client: NewClient, phone: str) -> neonize_proto.JID:
        """The JID WhatsApp knows the number by (it may differ from the digits, e.g. Brazil's ninth digit)."""
        if phone not in self.known_jids:
            try:
                answers = client.is_on_whatsapp("+" + phone)
            except NeonizeError as error:
                raise TransportError(f"could not check +{phone} on WhatsApp: {error}") from error
            found = next((answer.JID for answer in answers if answer.IsIn), None)
            if found is None:
                raise TransportError(f"+{phone} is not on WhatsApp", permanent=True, reason_code="not_on_whatsapp")
            self.known_jids[phone] = found
        return self.known_jids[phone]
