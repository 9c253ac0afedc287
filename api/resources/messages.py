"""Sending a message (enqueued, 202), reading one back with its delivery status, and what we do to one sent:
delete it for everyone, edit it, react to it (each made on WhatsApp by the connection's session)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any

from flask import Blueprint
from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    computed_field,
    field_validator,
    model_validator,
)

from api.endpoint import endpoint
from api.errors import ApiError, Conflict, NotFound, ValidationFailed
from api.group_commit import GroupCommit
from api.media_upload import check_fetchable, stored_upload, uploaded_file
from api.resources.quick_messages import visible_quick_message
from api.schemas import OutSchema, Schema, UtcDateTime
from api.scoping import get_owned, owned, sees_ticket, visible_ticket
from api.security import current_principal
from db.base import database, utcnow
from db.companies import Company
from db.company_settings import recent_company_setting
from db.connections import Connection
from db.contacts import Contact
from db.messages import OUR_REACTOR, Message, QuickMessage, polls_shown
from db.tickets import Ticket, find_conversation, find_or_open_ticket
from wharf.media import media_link
from wharf.phones import InvalidPhone, is_international, to_e164
from workers.chat_actions import SENT, edit_on_whatsapp, enqueue_on_session, react_on_whatsapp, revoke_message
from workers.events import announcing
from workers.inbound import upsert_contact
from workers.message_changes import mark_deleted, mark_edited, reactions_of, record_reaction
from workers.messages import (
    OutboundDraft,
    dispatch_outbounds,
    media_options,
    quick_message_media,
    stored_media_options,
    write_outbounds,
)
from workers.templating import render_template, ticket_variables
from workers.transports.base import LONGEST_TYPING_MS, ContactCard, Location, Poll, group_id

blueprint = Blueprint("messages", __name__, url_prefix="/api/messages")

# The message and its Job commit with those of the process's other sends of the moment, then go to the
# gateway together: a send's transaction and round trips were most of its cost (BENCHMARKS.md).
sends = GroupCommit(write_outbounds, dispatch_outbounds)
EDIT_WINDOW = dt.timedelta(minutes=15)  # WhatsApp's: how long after its send a message may be edited
KEYCAP = "\u20e3"  # what makes "1️⃣" an emoji


class ReactionOut(OutSchema):
    emoji: str
    from_: str = Field(alias="from", description='who reacted: their phone (or WhatsApp id, for a hidden number), or '
                                                 '"me", the connection\'s own number')
    at: UtcDateTime


class LocationOut(OutSchema):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class ContactCardOut(OutSchema):
    name: str
    phone: str = Field(description="E.164")


class PollOptionOut(OutSchema):
    name: str
    votes: int
    voters: list[str] = Field(description='who chose it, first voter first: their phone (or WhatsApp id, for a hidden '
                                          'number), or "me", the connection\'s own number')


class PollOut(OutSchema):
    name: str = Field(description="the question")
    selectable_count: int = Field(description="how many options a person may choose; 0: any number")
    options: list[PollOptionOut] = Field(description="in the poll's order, each with its votes as they are now")


class SenderOut(OutSchema):
    phone: str = Field(description="E.164, or WhatsApp's id of a member whose number it hides (…@lid)")
    name: str | None = Field(description="the name they gave WhatsApp (push name)")


class MessageOut(OutSchema):
    id: int
    ticket_id: int | None
    connection_id: int | None
    direction: str
    body: str
    type: str
    status: str
    error: str | None
    wa_id: str | None
    private: bool
    user_id: int | None = Field(description="the agent who wrote it; null for the contact's, a bot's, a program's or "
                                            "the platform's own (a greeting...)")
    flow_session_id: int | None = Field(description="the flow session whose bot wrote it")
    media_mimetype: str | None
    media_name: str | None
    media_path: str | None = Field(exclude=True)
    location: LocationOut | None = Field(None, description="the place shared (type `location`; `body` says it in "
                                                           "words)")
    contact_card: ContactCardOut | None = Field(None, serialization_alias="contact",
                                                description="the contact card shared (type `contact`; `body` is its "
                                                            "vCard)")
    poll_shown: PollOut | None = Field(None, serialization_alias="poll", validation_alias="pollShown",
                                       description="the poll asked (type `poll`; `body` says it in words), with its "
                                                   "votes: one per person, their latest")
    sender: SenderOut | None = Field(None, description="who in the group wrote it (a group's message from a member); "
                                                       "null for any other message")
    quoted_message_id: int | None
    forwarded: bool = Field(False, description="WhatsApp shows it as forwarded: one we forwarded, or a contact did")
    created_at: UtcDateTime
    sending_at: UtcDateTime | None
    sent_at: UtcDateTime | None
    delivered_at: UtcDateTime | None
    read_at: UtcDateTime | None
    deleted_at: UtcDateTime | None = Field(description="when it was deleted for everyone")
    edited_at: UtcDateTime | None = Field(description="when its text was last edited (by its contact, or by us)")
    reactions: list[ReactionOut] = Field([], description="one per person who reacted, oldest first")

    @computed_field(description="the file, by a link that opens without Authorization for 24 hours "
                                "(GET /api/media/:token); null: no file")
    def media_url(self) -> str | None:
        return media_link(self.id) if self.media_path else None


class LocationIn(Schema):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(None, max_length=1000, description="the place's name, shown above its address")
    address: str | None = Field(None, max_length=1000)

    def place(self) -> Location:
        return Location(self.latitude, self.longitude, self.name or None, self.address or None)


class ContactCardIn(Schema):
    name: str = Field(min_length=1, max_length=256)
    phone: str = Field(max_length=64, description="a phone number; the company's default country applies")


PollOption = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PollIn(Schema):
    name: str = Field(min_length=1, max_length=255, description="the question")
    options: list[PollOption] = Field(min_length=2, max_length=12, description="2 to 12 different answers")
    selectable_count: int = Field(1, ge=0, le=12, description="how many options a person may choose; 0: any number")

    @field_validator("options")
    @classmethod
    def different(cls, options: list[str]) -> list[str]:
        if len(set(options)) < len(options):  # WhatsApp tells the options apart by their text alone
            raise ValueError("the options must differ from each other")
        return options

    @model_validator(mode="after")
    def choosable(self) -> PollIn:
        if self.selectable_count > len(self.options):
            raise ValueError("selectableCount cannot exceed the number of options")
        return self

    def poll(self) -> Poll:
        return Poll(self.name, tuple(self.options), self.selectable_count)


class SendIn(Schema):
    connection_id: int | None = None
    ticket_id: int | None = None
    to: str | None = Field(None, description="a phone number (the company's default country applies), or a group's "
                           "id (120363012345678901@g.us)")
    body: str = Field("", max_length=65536)
    media_url: str | None = Field(None, pattern=r"^https?://", max_length=2048)
    location: LocationIn | None = Field(None, description="a place to share, instead of a text or media")
    contact: ContactCardIn | None = Field(None, description="a contact card to share, instead of a text or media")
    poll: PollIn | None = Field(None, description="a poll to ask, instead of a text or media")
    voice_note: bool = Field(False, description="send the audio file or mediaUrl as a voice note (Ogg/Opus, made from "
                                                "any audio; a WebM or WAV recording always goes as one); no body")
    quick_message_id: int | None = Field(None, description="send a quick message: its file, and its text filled in for "
                                                           "the ticket unless `body` (the text as edited) is given")
    quoted_message_id: int | None = None
    typing_ms: int = Field(0, ge=0, le=LONGEST_TYPING_MS, description="the contact sees \"typing…\" (\"recording "
                           "audio…\" before a voice note) for this many milliseconds, then the message, as a person "
                           "would send it (Evolution API's `delay`); other messages to the chat meanwhile go first")

    @model_validator(mode="after")
    def one_recipient(self) -> SendIn:
        if (self.ticket_id is None) == (self.to is None):
            raise ValueError("give either ticketId or to")
        return self


class SendOut(OutSchema):
    id: int
    status: str
    job_id: str


def messages_out(messages: list[Message]) -> list[MessageOut]:
    """The messages as the API shows them; their reactions are read in one query, their polls' votes in another."""
    reactions = reactions_of([message.id for message in messages])
    polls = polls_shown(messages)
    return [MessageOut.model_validate(message).model_copy(update={
        "reactions": [ReactionOut.model_validate(reaction) for reaction in reactions[message.id]],
        "poll_shown": PollOut.model_validate(polls[message.id]) if message.id in polls else None,
    }) for message in messages]


def message_out(message: Message) -> MessageOut:
    return messages_out([message])[0]


class MessageJson:
    """A message as JSON; a page of them at once (`api.pagination.paginate`), to read their reactions in one query."""

    def __call__(self, message: Message) -> dict[str, Any]:
        return self.page([message])[0]

    def page(self, messages: list[Message]) -> list[dict[str, Any]]:
        return [out.to_json() for out in messages_out(messages)]


message_json = MessageJson()


def pick_connection(connection_id: int | None) -> Connection:
    if connection_id is not None:
        return get_owned(Connection, connection_id, "connection")
    default = owned(Connection).order_by(Connection.is_default.desc(), Connection.id).first()
    if default is None:
        raise ApiError(422, "the company has no connection to send from", "no_connection")
    return default


def ticket_for(body: SendIn) -> Ticket:
    """The ticket to send on: the one named, or the phone's live ticket on the connection; either one the
    caller may see. The quoted message, if any, is checked before a new ticket is opened."""
    principal = current_principal()
    if body.ticket_id is not None:
        ticket = visible_ticket(body.ticket_id)
        check_sendable(ticket)
        if body.connection_id not in (None, ticket.connection_id):
            raise ValidationFailed("a ticket's messages go out on its own connection",
                                   {"connectionId": "not the ticket's connection"})
        check_quoted(body.quoted_message_id, ticket.contact_id, ticket.connection_id)
        return ticket
    phone = recipient_phone(body.to, principal.company_id)
    conversation = find_conversation(principal.company_id, phone, body.connection_id)
    if conversation is None:
        if body.connection_id is not None:
            raise NotFound("connection")
        raise ApiError(422, "the company has no connection to send from", "no_connection")
    if conversation.contact_blocked:
        raise contact_blocked()
    check_quoted(body.quoted_message_id, conversation.contact_id, conversation.connection_id)
    if conversation.ticket is not None:  # the common case: one statement found it all
        if not sees_ticket(conversation.ticket):
            raise in_another_agents_ticket(conversation.ticket)
        return conversation.ticket
    with database.atomic():  # the conversation opens in a commit of its own, before its first message's
        if conversation.contact_id is not None:
            contact = Contact.get_by_id(conversation.contact_id)
        else:
            contact = upsert_contact(principal.company_id, phone, None, is_group=phone.endswith("@g.us"))
        ticket, created = find_or_open_ticket(contact, Connection.get_by_id(conversation.connection_id))
        if created and principal.user is not None:  # whoever starts a conversation answers it
            ticket.accept(principal.user.id)
    return ticket


def check_sendable(ticket: Ticket) -> None:
    """A message may go on the ticket (one read with its contact): it is live, its contact not blocked, its connection
    there."""
    if ticket.status == "closed":
        raise Conflict("the ticket is closed: reopen it, or send to the contact's phone")
    if ticket.contact.blocked:
        raise contact_blocked()
    if ticket.connection_id is None:
        raise ApiError(422, "the ticket's connection was deleted", "no_connection")


def in_another_agents_ticket(ticket: Ticket) -> Conflict:
    """An agent writes only into conversations they may see: this number's is another agent's or queue's."""
    return Conflict("the conversation with this number is in a ticket of another agent or queue: have it "
                    "transferred to you", {"ticketId": ticket.id})


def contact_blocked() -> ApiError:
    return ApiError(422, "the contact is blocked: unblock them to send", "contact_blocked")


def check_quoted(message_id: int | None, contact_id: int | None, connection_id: int) -> None:
    """A reply quotes a message of its own chat (the contact on the connection, in any of its tickets):
    WhatsApp shows the quoted text, so a message of another chat must not be quoted."""
    if message_id is None:
        return
    in_chat = contact_id is not None and Message.select().join(Ticket).where(
        Message.id == message_id, Ticket.contact == contact_id, Ticket.connection == connection_id).exists()
    if not in_chat:
        raise ApiError(404, "the quoted message is not in this conversation", "not_found",
                       {"quotedMessageId": "not in this conversation"})


def recipient_phone(to: str, company_id: int) -> str:
    """`to` in E.164 (`company_phone`), or a group's id as WhatsApp writes it ("…@g.us")."""
    if to.strip().endswith("@g.us"):
        try:
            return group_id(to)
        except ValueError as error:
            raise ValidationFailed("the recipient is not a valid group id", {"to": str(error)}) from None
    return company_phone(to, company_id, "to", "the recipient is not a valid phone number")


def company_phone(text: str, company_id: int, field: str, refusal: str) -> str:
    """`text` in E.164; the company's default country is read only for a number without its country code. Not a
    number: a 400 saying `refusal`, with the reason under `field`."""
    country = None if is_international(text) else Company.get_by_id(company_id).default_country
    try:
        return to_e164(text, country)
    except InvalidPhone as error:
        raise ValidationFailed(refusal, {field: str(error)}) from None


def signed(text: str | None) -> str | None:
    """An agent's text under their name in bold, as WhatsApp shows `*...*`, when the company signs messages
    (the `sign_messages` setting); a program's text as it is."""
    principal = current_principal()
    if not text or principal.user is None or not recent_company_setting(principal.company_id, "sign_messages"):
        return text
    return f"*{principal.user.name}:*\n{text}"


@blueprint.post("")
@endpoint(summary="Send a message to a ticket or a phone; it is queued and sent by the gateway", tags=["messages"],
          body=SendIn, response=SendOut, status=202, enqueues=True, errors=[404, 409, 422],
          body_media_types=("application/json", "multipart/form-data"), scope="messages:send")
def send(body: SendIn):
    principal = current_principal()
    quick = quick_message_sent(body)
    content = shared_content(body, principal.company_id) or (quick[1] if quick else text_or_media(body, principal.company_id))
    ticket = ticket_for(body)
    if quick is not None:
        content = {**content, "body": quick_message_text(quick[0], content, body.body, ticket)}
    outbound = sends.run(OutboundDraft(
        ticket, user_id=principal.user.id if principal.user else None,
        quoted_message_id=body.quoted_message_id, typing_ms=body.typing_ms,
        **content,  # its Idempotency-Key is the caller's (api/idempotency.py)
    ))
    return SendOut(id=outbound.message.id, status=outbound.message.status, job_id=outbound.job_id)


def quick_message_sent(body: SendIn) -> tuple[QuickMessage, dict[str, Any]] | None:
    """For `quickMessageId`: the quick message (one the caller sees) and OutboundDraft's fields for its file. It goes
    with its own file only, and its text or `body`, as a caption: an audio has none."""
    if body.quick_message_id is None:
        return None
    if clashes := [field for field, given in (("mediaUrl", bool(body.media_url)), ("voiceNote", body.voice_note),
                                              ("file", uploaded_file() is not None)) if given]:
        raise ValidationFailed("a quick message goes with its own file", dict.fromkeys(clashes, "not with quickMessageId"))
    return quick_message_with_file(body.quick_message_id, body.body)


def quick_message_with_file(quick_message_id: int, text: str | None) -> tuple[QuickMessage, dict[str, Any]]:
    """A quick message the caller sees, and OutboundDraft's fields for its file; a 400 for a `text` beside an audio,
    which WhatsApp shows without one."""
    quick = visible_quick_message(quick_message_id)
    media = quick_message_media(quick)
    if text and media.get("message_type") == "audio":
        raise ValidationFailed("an audio goes without text", {"body": "not with this quick message's audio"})
    return quick, media


def quick_message_text(quick: QuickMessage, media: dict[str, Any], edited: str | None, ticket: Ticket) -> str:
    """What a quick message says: its text as the agent `edited` it, or filled in for the ticket; nothing with an
    audio, which WhatsApp shows without text."""
    if media.get("message_type") == "audio":
        return ""
    return signed(edited or filled_in(quick.body, ticket))


def filled_in(text: str, ticket: Ticket) -> str:
    """The text's {{variables}} filled in for the ticket, the caller its agent."""
    agent = current_principal().user
    return render_template(text, ticket_variables(ticket, agent.name if agent else ""))


def text_or_media(body: SendIn, company_id: int) -> dict[str, Any]:
    """OutboundDraft's fields for a text, a file (stored now) or a media URL, with or without a caption."""
    if body.voice_note and body.body:
        raise ValidationFailed("a voice note goes without text", {"body": "not with voiceNote"})
    upload = stored_upload(company_id, body.media_url, body.voice_note)
    media: dict[str, Any] = {}
    if upload is not None:
        media = stored_media_options(*upload)
    elif body.media_url:
        check_fetchable(body.media_url)
        media = media_options(body.media_url, body.voice_note)
    elif body.voice_note:
        raise ValidationFailed("a voice note needs a sound: a file or a mediaUrl", {"voiceNote": "no file given"})
    if not body.body and not media:
        raise ValidationFailed("say something: give a body, a file, a mediaUrl, a location, a contact or a poll",
                               {"body": "empty message"})
    return {"body": signed(body.body), **media}


def shared_content(body: SendIn, company_id: int) -> dict[str, Any] | None:
    """OutboundDraft's fields for a location, a contact card or a poll, or None when the message is a text or media.
    WhatsApp sends each alone: no caption, no media, no other. (They come in JSON only: a form's fields are text.)"""
    shared = [field for field in ("location", "contact", "poll") if getattr(body, field) is not None]
    if not shared:
        return None
    others = ({"body": bool(body.body), "mediaUrl": bool(body.media_url), "voiceNote": body.voice_note,
               "quickMessageId": body.quick_message_id is not None} | dict.fromkeys(shared[1:], True))
    if clashes := [field for field, given in others.items() if given]:
        raise ValidationFailed("send a text or media, a location, a contact card or a poll: one of them",
                               dict.fromkeys(clashes, f"not with a {shared[0]}"))
    if body.location is not None:
        place = body.location.place()
        return {"body": place.text(), "message_type": "location", "location": place}
    if body.poll is not None:
        poll = body.poll.poll()
        return {"body": poll.text(), "message_type": "poll", "poll": poll}
    phone = company_phone(body.contact.phone, company_id, "contact.phone", "the contact card's phone is not a valid "
                                                                          "phone number")
    card = ContactCard(body.contact.name, phone)
    return {"body": card.vcard(), "message_type": "contact", "contact_card": card}


@blueprint.get("/<int:message_id>")
@endpoint(summary="A message with its delivery status", tags=["messages"], response=MessageOut, errors=[404],
          scope="messages:read")
def show_message(message_id: int):
    return message_out(visible_message(message_id))


@blueprint.delete("/<int:message_id>")
@endpoint(summary="Delete a message of ours for everyone: WhatsApp removes it from the contact's phone; "
          "one not sent yet is not sent", tags=["messages"], response=MessageOut, errors=[404, 409],
          scope="messages:send")
def delete_message(message_id: int):
    message = visible_message(message_id)
    if message.direction != "out":
        raise Conflict("only our own messages can be deleted for everyone")
    with announcing() as announcements:
        deleted = mark_deleted(Message.id == message.id, announcements)
        message = Message.get_by_id(message.id)
        if deleted and message.status != "failed" and message.connection_id:
            enqueue_on_session(revoke_message, message.connection_id, message.id)  # after its send, on its queue
    return message_out(message)


class EditIn(Schema):
    body: str = Field(min_length=1, max_length=65536, description="the new text")


def edit_refusal(message: Message) -> str | None:
    """Why WhatsApp would not let us edit the message, if it would not: only a text of ours that went out, for
    15 minutes."""
    if message.direction != "out":
        return "only our own messages can be edited"
    if message.type != "text":
        return "only text messages can be edited"
    if message.deleted_at is not None:
        return "the message was deleted for everyone"
    if message.status not in SENT or message.connection_id is None:
        return "the message did not reach WhatsApp (yet): only a sent message can be edited"
    if utcnow() - (message.sent_at or message.created_at) > EDIT_WINDOW:
        return "WhatsApp lets a message be edited for 15 minutes after it was sent"
    return None


@blueprint.patch("/<int:message_id>")
@endpoint(summary="Edit the text of a message of ours, on the contact's phone too (for 15 minutes after its send)",
          tags=["messages"], body=EditIn, response=MessageOut, errors=[404, 409, 422], scope="messages:send")
def edit_message(message_id: int, body: EditIn):
    message = message_to_change(message_id, edit_refusal)
    now = utcnow()
    with announcing() as announcements:
        if mark_edited(Message.id == message.id, signed(body.body), now, announcements):
            enqueue_on_session(edit_on_whatsapp, message.connection_id, message.id, now.isoformat())
    return message_out(Message.get_by_id(message.id))


def one_emoji(text: str) -> str:
    """An emoji, or nothing: letters, spaces or text without a pictograph are no reaction WhatsApp shows."""
    if text and (any(c.isalpha() or c.isspace() for c in text)
                 or not any(unicodedata.category(c) == "So" or c == KEYCAP for c in text)):
        raise ValueError("give an emoji, or an empty text to remove the reaction")
    return text


Emoji = Annotated[str, Field(max_length=32), AfterValidator(one_emoji)]


class ReactIn(Schema):
    emoji: Emoji = Field(description="the reaction; an empty text removes ours")


def reaction_refusal(message: Message) -> str | None:
    """Why WhatsApp would not take our reaction to the message, if it would not."""
    if message.deleted_at is not None:
        return "the message was deleted for everyone"
    if message.type == "call":
        return "a call takes no reactions"
    if (message.direction == "out" and message.status not in SENT) or message.connection_id is None:
        return "the message did not reach WhatsApp (yet)"
    if message.direction == "in" and message.ticket.is_group and not message.sender_phone:
        return "a reaction in a group names the member who wrote the message, which was not kept for this one"
    return None


@blueprint.post("/<int:message_id>/reactions")
@endpoint(summary="React to a message with an emoji, or remove our reaction (an empty one), on WhatsApp too",
          tags=["messages"], body=ReactIn, response=MessageOut, errors=[404, 409, 422], scope="messages:send")
def react(message_id: int, body: ReactIn):
    message = message_to_change(message_id, reaction_refusal)
    now = utcnow()
    with announcing() as announcements:
        if record_reaction(message, OUR_REACTOR, body.emoji, now, announcements):
            enqueue_on_session(react_on_whatsapp, message.connection_id, message.id, now.isoformat())
    return message_out(message)


def message_to_change(message_id: int, refusal: Callable[[Message], str | None]) -> Message:
    """The caller's message, if WhatsApp would take the change (else 409, saying why: `refusal`) and its contact is
    not blocked (else 422)."""
    message = visible_message(message_id)
    if why := refusal(message):
        raise Conflict(why)
    if message.contact is not None and message.contact.blocked:
        raise contact_blocked()
    return message


def visible_message(message_id: int) -> Message:
    message = get_owned(Message, message_id, "message")
    if message.ticket_id is not None and not sees_ticket(message.ticket):
        raise NotFound("message")
    return message
