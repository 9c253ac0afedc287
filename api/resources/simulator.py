"""The simulated WhatsApp network of a `simulator` connection: talk to (and call) us as a contact, or as a member of a
group, vote on polls, see what we sent, read, reacted to and rejected."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
from typing import Annotated, Any

from flask import Blueprint
from PIL import Image
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from api.endpoint import endpoint
from api.errors import ApiError, ValidationFailed
from api.resources.messages import (
    ContactCardIn,
    ContactCardOut,
    Emoji,
    LocationIn,
    LocationOut,
    PollIn,
    PollOption,
    uploaded_file,
)
from api.schemas import OutSchema, PageQuery, QuerySchema, Schema, UtcDateTime, naive_utc
from api.scoping import get_owned
from api.security import current_principal
from db.companies import Company
from db.connections import Connection
from wharf.media import MediaRejected
from wharf.phones import InvalidPhone, to_e164
from wharf.redis_client import redis_client
from workers.transports import simulator
from workers.transports.base import ContactCard, e164_or_id

blueprint = Blueprint("simulator", __name__, url_prefix="/api/simulator")
CONTACT_ROLES = ("super", "admin", "supervisor")  # who may play a simulated contact


class FromContact(Schema):
    from_: str = Field(alias="from", description="the contact's phone; the company's default country applies")


class SentFileIn(Schema):
    data: str = Field(description="the file's bytes in base64, which the body's limit (MAX_BODY_BYTES, 16 MB) holds "
                                  "up to 12 MB of: a larger file goes as a multipart `file`")
    mimetype: str = Field(max_length=255, description="image/jpeg, audio/ogg (a voice note), application/pdf, ...")
    filename: str | None = Field(None, max_length=255, description="kept for a document, as WhatsApp does")


class GroupIn(Schema):
    id: Annotated[str, AfterValidator(simulator.group_id)] = Field(
        max_length=64, description="the group's id (120363012345678901@g.us), or its digits")
    name: str | None = Field(None, max_length=200, description="its subject, from now on (another one renames it); "
                                                              "WhatsApp gives it as the group's name")


class InboundIn(FromContact):
    body: str = Field("", max_length=65536, description="the text, or a file's caption")
    name: str | None = Field(None, max_length=200, description="the name the contact gave WhatsApp (push name)")
    group: GroupIn | None = Field(None, description="the group the contact writes in, as its member (JSON only)")
    wa_id: str | None = Field(None, max_length=128, description="reuse an id to see WhatsApp's duplicates dropped")
    forwarded: bool = Field(False, description="the contact forwards it (WhatsApp shows it as forwarded)")
    media: SentFileIn | None = Field(None, description="a file the contact sends (or a multipart `file`)")
    location: LocationIn | None = Field(None, description="a place the contact shares, alone")
    contact: ContactCardIn | None = Field(None, description="a contact card the contact shares, alone")
    poll: PollIn | None = Field(None, description="a poll the contact asks, alone")


class InboundOut(OutSchema):
    wa_id: str
    from_: str = Field(serialization_alias="from")


class SentOut(InboundOut):
    group: str | None = Field(description="the group's id, where the message was written in one")


class OutboxQuery(PageQuery):
    to: str | None = None


def from_unix_seconds(value: float | dt.datetime) -> dt.datetime:
    return naive_utc(dt.datetime.fromtimestamp(value, dt.UTC)) if isinstance(value, int | float) else value


NetworkTime = Annotated[UtcDateTime, BeforeValidator(from_unix_seconds)]  # the network keeps Unix seconds


class NetworkEntry(OutSchema):
    """Something the simulated network got from us, and when."""

    wa_id: str
    at: NetworkTime


class SentPoll(OutSchema):
    name: str
    options: list[str]
    selectable_count: int = Field(description="how many options a person may choose; 0: any number")


class OutboxEntry(NetworkEntry):
    to: str
    body: str
    type: str
    mimetype: str | None = Field(None, description="the file's type, for media")
    voice_note: bool = Field(False, description="audio the phone shows as a voice note (Ogg/Opus), not as a file")
    location: LocationOut | None = Field(None, description="the place we shared (type `location`)")
    contact: ContactCardOut | None = Field(None, description="the contact card we shared (type `contact`)")
    poll: SentPoll | None = Field(None, description="the poll we asked (type `poll`)")
    quoted_wa_id: str | None = None
    revoked_at: NetworkTime | None = Field(None, description="when we deleted it for everyone")
    edited_at: NetworkTime | None = Field(None, description="when we last edited it (`body` is the text it has now)")


class ReadReceiptsQuery(QuerySchema):
    contact: str | None = Field(None, description="only the receipts of this contact's messages (a phone)")


class GroupEntry(NetworkEntry):
    """Of a chat that may be a group's: the chat, and in a group the member whose message it was."""

    contact: str = Field(description="the contact's number, or a group's id")
    member: str | None = Field(None, description="in a group, the member who wrote the message")

    @classmethod
    def of(cls, entry: dict, **fields) -> GroupEntry:
        sender = entry.get("sender")
        return cls(wa_id=entry["waId"], at=entry["at"], contact=e164_or_id(entry["chat"]),
                   member=e164_or_id(sender) if sender else None, **fields)


class ReadReceipt(GroupEntry):
    """The contact's phone shows their message `wa_id` read by us (blue ticks)."""


class ReadReceiptList(OutSchema):
    items: list[ReadReceipt]


class OutboxPage(OutSchema):
    items: list[OutboxEntry]
    page: int
    page_size: int
    total: int


PictureUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]


class NetworkIn(Schema):
    delivered_after_ms: int | None = Field(None, ge=-1, le=86_400_000, description="-1: never")
    read_after_ms: int | None = Field(None, ge=-1, le=86_400_000, description="-1: never")
    fail_rate: float | None = Field(None, ge=0, le=1)
    not_on_whatsapp: list[str] | None = Field(None, max_length=1000)
    refuse_group_adds: list[str] | None = Field(None, max_length=1000, description="numbers (digits) whose privacy "
                                                "settings let only an invitation add them to a group")
    profile_pictures: dict[str, PictureUrl | None] | None = Field(
        None, max_length=1000, description="{number: its profile picture's URL, or null: it shows none}; the other "
                                           "numbers show one drawn for them")
    address_book: dict[str, Annotated[str, StringConstraints(max_length=200)]] | None = Field(
        None, max_length=10_000, description="{number: the name the phone saved them by}: the session's address book "
                                             "(POST /api/contacts/import-from-phone reads it)")
    require_qr: bool | None = None
    auto_reply: str | None = Field(None, max_length=4096)
    disconnect: bool = Field(False, description="drop the session once; the gateway reconnects")
    ask_qr: bool = Field(False, description="log the session out to a new QR (or pair code) login")
    scan_qr: bool = Field(False, description="the phone scans the QR: the session connects")
    ban: bool = Field(False, description="WhatsApp bans the number: logged out, sends fail for good")


class NetworkOut(OutSchema):
    delivered_after_ms: int
    read_after_ms: int
    fail_rate: float
    not_on_whatsapp: list[str]
    refuse_group_adds: list[str]
    profile_pictures: dict[str, str | None]
    address_book: dict[str, str]
    require_qr: bool
    auto_reply: str | None
    banned: bool


def simulated_connection(connection_id: int) -> Connection:
    connection = get_owned(Connection, connection_id, "connection")
    if connection.transport != "simulator":
        raise ApiError(409, "this connection is not simulated", "not_simulated", {"transport": connection.transport})
    return connection


def acting_contact(connection_id: int, body: FromContact) -> str:
    """The phone (E.164) of the simulated contact who does something to the connection's number."""
    simulated_connection(connection_id)
    return company_phone(body.from_, "from")


def company_phone(raw: str, field: str) -> str:
    company = Company.get_by_id(current_principal().company_id)
    try:
        return to_e164(raw, company.default_country)
    except InvalidPhone as error:
        raise ValidationFailed("not a valid phone number", {field: str(error)}) from None


@blueprint.post("/<int:connection_id>/inbound")
@endpoint(summary="A simulated contact sends a message to this connection, in their chat or in a group: a text, a "
                  "file (with a caption), a location, a contact card or a poll", tags=["simulator"], body=InboundIn,
          response=SentOut, status=202, roles=CONTACT_ROLES, errors=[404, 409],
          body_media_types=("application/json", "multipart/form-data"))
def inbound(connection_id: int, body: InboundIn):
    phone = acting_contact(connection_id, body)
    card = ContactCard(body.contact.name, company_phone(body.contact.phone, "contact.phone")) if body.contact else None
    try:
        wa_id = simulator.inject_inbound(redis_client(), connection_id, phone, body.body, body.name, body.wa_id,
                                         media=sent_file(body.media), contact_card=card,
                                         poll=body.poll.poll() if body.poll else None,
                                         location=body.location.place() if body.location else None,
                                         group=body.group.id if body.group else None,
                                         group_name=body.group.name if body.group else None,
                                         forwarded=body.forwarded)
    except MediaRejected as error:
        field = "media" if body.media else "file"
        raise ValidationFailed("WhatsApp would not carry this file", {field: str(error)}) from None
    except ValueError as error:
        raise ValidationFailed(str(error), {"body": str(error)}) from None
    return SentOut(wa_id=wa_id, from_=phone, group=body.group.id if body.group else None)


def sent_file(media: SentFileIn | None) -> dict[str, Any] | None:
    """The file the contact sends, as the network takes it: given in JSON (base64), or as a multipart `file`."""
    if media is None:
        upload = uploaded_file()
        return None if upload is None else {"mimetype": upload.mimetype, "filename": upload.filename,
                                            "data": upload.read()}
    try:
        data = base64.b64decode(media.data, validate=True)
    except binascii.Error:
        raise ValidationFailed("the file's data is not base64", {"media.data": "not base64"}) from None
    return {"mimetype": media.mimetype, "filename": media.filename, "data": data}


class RevokeIn(FromContact):
    wa_id: str = Field(min_length=1, max_length=128, description="the id of the contact's message")


@blueprint.post("/<int:connection_id>/revoke")
@endpoint(summary="A simulated contact deletes a message of theirs for everyone", tags=["simulator"], body=RevokeIn,
          response=InboundOut, status=202, roles=CONTACT_ROLES, errors=[404, 409])
def revoke(connection_id: int, body: RevokeIn):
    phone = acting_contact(connection_id, body)
    simulator.inject_revoke(redis_client(), connection_id, phone, body.wa_id)
    return InboundOut(wa_id=body.wa_id, from_=phone)


class ContactEditIn(RevokeIn):
    body: str = Field(min_length=1, max_length=65536, description="the message's new text")


@blueprint.post("/<int:connection_id>/edit")
@endpoint(summary="A simulated contact edits the text of a message of theirs", tags=["simulator"],
          body=ContactEditIn, response=InboundOut, status=202, roles=CONTACT_ROLES, errors=[404, 409])
def edit(connection_id: int, body: ContactEditIn):
    phone = acting_contact(connection_id, body)
    simulator.inject_edit(redis_client(), connection_id, phone, body.wa_id, body.body)
    return InboundOut(wa_id=body.wa_id, from_=phone)


class ContactReactionIn(FromContact):
    wa_id: str = Field(min_length=1, max_length=128, description="the message reacted to: the contact's, or ours")
    emoji: Emoji = Field(description="an empty text takes their reaction back")


@blueprint.post("/<int:connection_id>/react")
@endpoint(summary="A simulated contact reacts to a message of their chat", tags=["simulator"],
          body=ContactReactionIn, response=InboundOut, status=202, roles=CONTACT_ROLES, errors=[404, 409])
def react(connection_id: int, body: ContactReactionIn):
    phone = acting_contact(connection_id, body)
    simulator.inject_reaction(redis_client(), connection_id, phone, body.wa_id, body.emoji)
    return InboundOut(wa_id=body.wa_id, from_=phone)


class VoteIn(FromContact):
    wa_id: str = Field(min_length=1, max_length=128, description="the poll: the contact's, or ours")
    options: list[PollOption] = Field(max_length=12, description="the options chosen, by their text; none withdraws "
                                                                 "the contact's vote")


@blueprint.post("/<int:connection_id>/vote")
@endpoint(summary="A simulated contact votes on a poll of their chat, changes their vote or withdraws it",
          tags=["simulator"], body=VoteIn, response=InboundOut, status=202, roles=CONTACT_ROLES, errors=[404, 409])
def vote(connection_id: int, body: VoteIn):
    phone = acting_contact(connection_id, body)
    simulator.inject_vote(redis_client(), connection_id, phone, body.wa_id, body.options)
    return InboundOut(wa_id=body.wa_id, from_=phone)


class OurReaction(GroupEntry):
    """The contact sees our reaction to their message `wa_id` (or to ours)."""

    emoji: str


class OurReactionList(OutSchema):
    items: list[OurReaction]


@blueprint.get("/<int:connection_id>/reactions")
@endpoint(summary="Our reactions the simulated contacts see, oldest first", tags=["simulator"],
          response=OurReactionList, errors=[404, 409])
def reactions(connection_id: int):
    simulated_connection(connection_id)
    return OurReactionList(items=[
        OurReaction.of(entry, emoji=entry["emoji"]) for entry in simulator.reactions(redis_client(), connection_id)
    ])


class CallIn(FromContact):
    video: bool = False


class CallOut(OutSchema):
    call_id: str
    from_: str = Field(serialization_alias="from")
    video: bool


class Call(CallOut):
    """A call a contact made to the connection's number."""

    at: NetworkTime
    rejected_at: NetworkTime | None = Field(None, description="when the session rejected it (the setting "
                                                              "rejectCalls); null: it rang until the caller hung up")


class CallList(OutSchema):
    items: list[Call]


@blueprint.post("/<int:connection_id>/call")
@endpoint(summary="A simulated contact calls this connection's number", tags=["simulator"], body=CallIn,
          response=CallOut, status=202, roles=CONTACT_ROLES, errors=[404, 409])
def call(connection_id: int, body: CallIn):
    phone = acting_contact(connection_id, body)
    call_id = simulator.inject_call(redis_client(), connection_id, phone, body.video)
    return CallOut(call_id=call_id, from_=phone, video=body.video)


MEMBERS_CHANGED = ("add", "remove", "promote", "demote")


class GroupChangeIn(FromContact):
    """A member of the group (`from`) renames it or changes its members."""

    group: Annotated[str, AfterValidator(simulator.group_id)] = Field(
        max_length=64, description="the group's id (120363012345678901@g.us), or its digits")
    name: str | None = Field(None, min_length=1, max_length=100, description="its new subject")
    add: list[str] = Field([], max_length=256, description="phones added; \"me\", the connection's number: the group "
                                                           "comes to it")
    remove: list[str] = Field([], max_length=256, description="phones removed; \"me\": the connection is out of the "
                                                              "group")
    promote: list[str] = Field([], max_length=256, description="phones made admins")
    demote: list[str] = Field([], max_length=256, description="admins made members")

    @model_validator(mode="after")
    def something_changes(self) -> GroupChangeIn:
        if self.name is None and not any(getattr(self, change) for change in MEMBERS_CHANGED):
            raise ValueError("send a name or members to add, remove, promote or demote")
        return self


class GroupChangeOut(OutSchema):
    group: str
    from_: str = Field(serialization_alias="from")
    name: str | None
    add: list[str]
    remove: list[str]
    promote: list[str]
    demote: list[str]


@blueprint.post("/<int:connection_id>/group-change")
@endpoint(summary="A member of a group renames it or adds, removes, promotes or demotes members, as WhatsApp tells "
          "the session", tags=["simulator"], body=GroupChangeIn, response=GroupChangeOut, status=202,
          roles=CONTACT_ROLES, errors=[404, 409])
def group_change(connection_id: int, body: GroupChangeIn):
    phone = acting_contact(connection_id, body)
    me = simulator.session_number(connection_id)
    members = {change: [me if raw == "me" else company_phone(raw, f"{change}[{index}]").lstrip("+")
                        for index, raw in enumerate(getattr(body, change))] for change in MEMBERS_CHANGED}
    simulator.inject_group_change(redis_client(), connection_id, body.group, phone.lstrip("+"), body.name, **members)
    return GroupChangeOut(group=body.group, from_=phone, name=body.name,
                          **{change: ["+" + number for number in numbers] for change, numbers in members.items()})


@blueprint.get("/<int:connection_id>/calls")
@endpoint(summary="The calls made to this connection's number, oldest first, and whether the session rejected them",
          tags=["simulator"], response=CallList, errors=[404, 409])
def calls(connection_id: int):
    simulated_connection(connection_id)
    return CallList(items=[
        Call(call_id=entry["callId"], from_="+" + entry["from"], video=entry["video"], at=entry["at"],
             rejected_at=entry["rejectedAt"])
        for entry in simulator.calls(redis_client(), connection_id)
    ])


@blueprint.get("/<int:connection_id>/outbox")
@endpoint(summary="What the simulated network received from this connection, once per WhatsApp id",
          tags=["simulator"], query=OutboxQuery, response=OutboxPage, errors=[404, 409])
def outbox(connection_id: int, query: OutboxQuery):
    simulated_connection(connection_id)
    to = company_phone(query.to, "to") if query.to else None
    entries, total = simulator.outbox(redis_client(), connection_id, to, (query.page - 1) * query.page_size,
                                      query.page_size)
    return OutboxPage(items=[OutboxEntry.model_validate(entry) for entry in entries], page=query.page,
                      page_size=query.page_size, total=total)


@blueprint.get("/<int:connection_id>/read-receipts")
@endpoint(summary="The read receipts (blue ticks) the simulated contacts got from this connection, oldest first",
          tags=["simulator"], query=ReadReceiptsQuery, response=ReadReceiptList, errors=[404, 409])
def read_receipts(connection_id: int, query: ReadReceiptsQuery):
    simulated_connection(connection_id)
    chat = company_phone(query.contact, "contact").lstrip("+") if query.contact else None
    return ReadReceiptList(items=[
        ReadReceipt.of(entry) for entry in simulator.read_receipts(redis_client(), connection_id, chat)
    ])


class TypingState(OutSchema):
    """Whether a contact's phone shows us typing ("typing…" under our name), or recording audio, since when."""

    contact: str
    typing: bool
    recording: bool = Field(False, description="\"recording audio…\": an agent is recording a voice note")
    at: NetworkTime


class TypingList(OutSchema):
    items: list[TypingState]


@blueprint.get("/<int:connection_id>/typing")
@endpoint(summary="Whether each simulated contact sees us typing (our agents' typing), as the network last heard",
          tags=["simulator"], response=TypingList, errors=[404, 409])
def typing(connection_id: int):
    simulated_connection(connection_id)
    return TypingList(items=[
        TypingState(contact="+" + chat, typing=state["typing"], recording=state.get("recording", False), at=state["at"])
        for chat, state in sorted(simulator.typing(redis_client(), connection_id).items())
    ])


class ContactTypingIn(FromContact):
    typing: bool = Field(description="false: they stopped")
    recording: bool = Field(False, description="recording a voice note (\"recording audio…\") rather than typing")


class ContactTypingOut(OutSchema):
    from_: str = Field(serialization_alias="from")
    typing: bool
    recording: bool
    watched: bool = Field(description="whether the session hears it: it does once an agent opened the contact's "
                                      "ticket (`ticket:join`) since the session connected, as WhatsApp tells a "
                                      "contact's typing only to a session that asked")


@blueprint.post("/<int:connection_id>/contact-typing")
@endpoint(summary="A simulated contact types in their chat, records a voice note, or stops: agents with their ticket "
          "open see `contact:typing`", tags=["simulator"], body=ContactTypingIn, response=ContactTypingOut, status=202,
          roles=CONTACT_ROLES, errors=[404, 409])
def contact_typing(connection_id: int, body: ContactTypingIn):
    phone = acting_contact(connection_id, body)
    recording = body.typing and body.recording
    watched = simulator.inject_typing(redis_client(), connection_id, phone, body.typing, recording)
    return ContactTypingOut(from_=phone, typing=body.typing, recording=recording, watched=watched)


class PostedStatus(OutSchema):
    """A Status the session posted, as its contacts see it."""

    wa_id: str
    type: str = Field(description="text, image, video or audio")
    text: str = Field(description="the text, or the file's caption")
    background: str
    font: int
    mimetype: str | None
    size: int | None = Field(description="the file's bytes")
    at: NetworkTime


class PostedStatusList(OutSchema):
    items: list[PostedStatus]


@blueprint.get("/<int:connection_id>/statuses")
@endpoint(summary="The Statuses this connection's session posted on the simulated network, oldest first",
          tags=["simulator"], response=PostedStatusList, errors=[404, 409])
def posted_statuses(connection_id: int):
    simulated_connection(connection_id)
    return PostedStatusList(items=[PostedStatus.model_validate(entry)
                                   for entry in simulator.statuses(redis_client(), connection_id)])


class Blocklist(OutSchema):
    items: list[str] = Field(description="the numbers the session blocked on WhatsApp, E.164")


@blueprint.get("/<int:connection_id>/blocklist")
@endpoint(summary="The numbers this connection's session blocked on the simulated network", tags=["simulator"],
          response=Blocklist, errors=[404, 409])
def blocklist(connection_id: int):
    simulated_connection(connection_id)
    return Blocklist(items=["+" + number for number in simulator.blocklist(redis_client(), connection_id)])


class OwnProfile(OutSchema):
    """The number's own profile as its contacts see it on the simulated network."""

    name: str | None
    about: str | None
    picture_id: str | None = Field(description="null: no picture")
    picture_size: list[int] | None = Field(description="the picture's [width, height] in pixels")


@blueprint.get("/<int:connection_id>/profile")
@endpoint(summary="The connection's own name, about text and picture as the session set them on the simulated "
          "network", tags=["simulator"], response=OwnProfile, errors=[404, 409])
def own_profile(connection_id: int):
    simulated_connection(connection_id)
    shown = simulator.profile(redis_client(), connection_id)
    picture = shown["picture"]
    return OwnProfile(name=shown["name"], about=shown["about"], picture_id=shown["pictureId"],
                      picture_size=list(Image.open(io.BytesIO(picture)).size) if picture else None)


@blueprint.patch("/<int:connection_id>")
@endpoint(summary="Change how the simulated network behaves, or make something happen to the session",
          tags=["simulator"], body=NetworkIn, response=NetworkOut, roles=("super", "admin"), errors=[404, 409])
def change_network(connection_id: int, body: NetworkIn):
    simulated_connection(connection_id)
    client = redis_client()
    actions = {"disconnect": "disconnect", "ask_qr": "qr", "scan_qr": "scan", "ban": "ban"}
    changes = body.changes(not_null=set(NetworkIn.model_fields) - {"auto_reply"})
    config = simulator.configure(client, connection_id,
                                 **{to_camel(name): value for name, value in changes.items() if name not in actions})
    for flag, op in actions.items():
        if getattr(body, flag):
            simulator.push_command(client, connection_id, op)
    return NetworkOut.model_validate(config)
