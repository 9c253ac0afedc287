"""Forwarding a message to another chat (Whaticket's "encaminhar", WhatsApp's forward): its text, file, place or
contact card goes, as it is, to a ticket or a phone or group the caller may write to, and WhatsApp shows it as
forwarded. Sent as `POST /api/messages` sends (202, the same checks of the destination).

What cannot go: a message deleted for everyone, a poll (WhatsApp forwards none), a call, a kind Wharf does not show,
or a received file that was not kept (its download failed).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import Field, model_validator

from api.endpoint import endpoint
from api.errors import Conflict
from api.resources.messages import SendIn, SendOut, sends, ticket_for, visible_message
from api.schemas import Schema
from api.security import current_principal
from db.messages import Message
from workers.messages import OutboundDraft, is_remote, media_options, stored_media_options
from workers.transports.base import ContactCard, Location

blueprint = Blueprint("message_forward", __name__)
NOT_FORWARDED = {"poll": "WhatsApp forwards no poll", "call": "a call is no message",
                 "unsupported": "Wharf does not show this kind of message"}
FILE_TYPES = ("image", "audio", "video", "document", "sticker")


class ForwardIn(Schema):
    ticket_id: int | None = Field(None, description="the ticket to forward it to")
    to: str | None = Field(None, description="or a phone number, or a group's id")
    connection_id: int | None = Field(None, description="the number that sends it, with `to`")

    @model_validator(mode="after")
    def one_destination(self) -> ForwardIn:
        if (self.ticket_id is None) == (self.to is None):
            raise ValueError("give either ticketId or to")
        return self


@blueprint.post("/api/messages/<int:message_id>/forward")
@endpoint(summary="Forward a message (text, file, place or contact card) to a ticket or a phone: 202, sent as "
          "POST /api/messages sends, shown as forwarded", tags=["messages"], body=ForwardIn, response=SendOut,
          status=202, enqueues=True, errors=[404, 409, 422], scope="messages:send")
def forward_message(message_id: int, body: ForwardIn):
    content = forwarded_content(visible_message(message_id))
    ticket = ticket_for(SendIn(ticket_id=body.ticket_id, to=body.to, connection_id=body.connection_id))
    user = current_principal().user
    outbound = sends.run(OutboundDraft(ticket, user_id=user.id if user else None, forwarded=True, **content))
    return SendOut(id=outbound.message.id, status=outbound.message.status, job_id=outbound.job_id)


def forwarded_content(message: Message) -> dict[str, Any]:
    """OutboundDraft's fields for the message's content, as it is; a 409 for one that cannot go."""
    if message.deleted_at is not None:
        raise Conflict("a message deleted for everyone cannot be forwarded")
    if message.type in NOT_FORWARDED:
        raise Conflict(f"this message cannot be forwarded: {NOT_FORWARDED[message.type]}")
    if message.location:
        return {"body": message.body, "message_type": "location", "location": Location(**message.location)}
    if message.contact_card:
        return {"body": message.body, "message_type": "contact", "contact_card": ContactCard(**message.contact_card)}
    if message.type not in FILE_TYPES:
        return {"body": message.body}
    if not message.media_path:
        raise Conflict("its file was not kept (its download failed): it cannot be forwarded")
    if is_remote(message.media_path):
        return {"body": message.body, **media_options(message.media_path, False)}
    return {"body": message.body,
            **stored_media_options(message.media_path, message.media_mimetype, message.media_name)}
