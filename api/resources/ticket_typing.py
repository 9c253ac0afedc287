"""`POST /api/tickets/:id/typing`: the contact sees "typing…" (or "recording audio…") from a program, as Evolution API's
sendPresence and WAHA's startTyping let a bot show it while it thinks of an answer; agents show theirs over Socket.IO.

A moment's sign, as the agents' is (`workers.chat_actions.show_typing`): queued on the connection's send queue, so it
comes before what is sent after it, and dropped rather than shown late.
"""

from __future__ import annotations

import datetime as dt

from dramatiq.common import current_millis
from flask import Blueprint
from pydantic import Field, model_validator

from api.endpoint import endpoint
from api.errors import Conflict
from api.resources.messages import check_sendable
from api.schemas import OutSchema, Schema, UtcDateTime, iso_utc
from api.scoping import visible_ticket
from api.security import current_principal
from workers.broker import enqueue_together
from workers.chat_actions import show_typing, typing_sign
from workers.events import emit
from workers.transports.base import LONGEST_TYPING_MS

blueprint = Blueprint("ticket_typing", __name__, url_prefix="/api/tickets")


class TypingIn(Schema):
    typing: bool = Field(True, description="false: stop showing it now")
    recording: bool = Field(False, description="\"recording audio…\" instead of \"typing…\"")
    duration_ms: int | None = Field(None, ge=1, le=LONGEST_TYPING_MS, description="stop showing it after this many "
                                    "milliseconds; without it, it shows until our next message in the chat or a "
                                    "`typing: false` (WhatsApp lets it fade by itself after about 25 seconds)")

    @model_validator(mode="after")
    def lasting_only_while_typing(self) -> TypingIn:
        if self.duration_ms is not None and not self.typing:
            raise ValueError("durationMs is for typing: true")
        return self


class TypingOut(OutSchema):
    ticket_id: int
    typing: bool
    recording: bool
    until: UtcDateTime | None = Field(description="when it stops by itself (durationMs); null: when told, or faded")


@blueprint.post("/<int:ticket_id>/typing")
@endpoint(summary="Show the contact \"typing…\" or \"recording audio…\", or stop it, as a person about to answer; "
          "agents who see the ticket get the `typing` realtime event", tags=["tickets"], body=TypingIn,
          response=TypingOut, status=202, errors=[404, 409, 422], scope="messages:send")
def show_ticket_typing(ticket_id: int, body: TypingIn):
    ticket = visible_ticket(ticket_id)
    check_sendable(ticket)
    if ticket.is_group:
        raise Conflict("typing is shown in a chat with one contact, not in a group")
    chat, now_ms = ticket.contact.phone.lstrip("+"), current_millis()
    signs = [typing_sign(ticket.connection_id, chat, body.typing, now_ms, body.recording)]
    until = None
    if body.duration_ms:
        signs.append(typing_sign(ticket.connection_id, chat, False, now_ms + body.duration_ms, body.recording))
        until = dt.datetime.fromtimestamp((now_ms + body.duration_ms) / 1000, dt.UTC).replace(tzinfo=None)
    enqueue_together(show_typing.broker, signs)
    principal = current_principal()
    emit("typing", ticket.company_id, {"ticketId": ticket.id, "userId": principal.user_id, "name": principal.name,
                                       "typing": body.typing, "recording": body.recording, "until": iso_utc(until)},
         ticket, None)
    return TypingOut(ticket_id=ticket.id, typing=body.typing, recording=body.recording, until=until).to_json()
