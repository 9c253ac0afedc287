"""Quick messages: a shortcut an agent types for a canned text with variables and optional media.

Company-wide ones (managers write them) are seen by everyone; personal ones only by their owner,
and a personal shortcut shadows a company-wide one of the same name for that owner. A quick message's file (an
image, a PDF, a recorded voice note...) is uploaded to it (`PUT /:id/media`), as Whaticket's quick answers have
theirs, and goes with it when it is sent (`POST /api/messages` `quickMessageId`, a flow's message node).
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint
from pydantic import Field, computed_field, field_validator

from api.endpoint import endpoint
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed
from api.media_upload import store_file, uploaded_file
from api.pagination import paginate
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import owned, shared_or_own, visible_ticket
from api.security import current_principal
from db.base import holds
from db.messages import QuickMessage
from wharf.media import signed_link
from workers.templating import render_template, standard_variables, ticket_variables

blueprint = Blueprint("quick_messages", __name__, url_prefix="/api/quick-messages")
WRITERS_OF_COMPANY_WIDE = ("super", "admin", "supervisor")
Scope = Literal["company", "personal"]


def normal_shortcut(value: str | None) -> str | None:
    """"/Hello" and "hello" are the same shortcut."""
    return None if value is None else value.lstrip("/").casefold()


class QuickMessageFields(Schema):
    shortcut: str | None = Field(None, pattern=r"^/?[\w-]{1,50}$")
    body: str | None = Field(None, min_length=1, max_length=4096)

    _shortcut = field_validator("shortcut")(normal_shortcut)


class QuickMessageCreate(QuickMessageFields):
    shortcut: str = Field(pattern=r"^/?[\w-]{1,50}$")
    body: str = Field(min_length=1, max_length=4096)
    scope: Scope = "personal"


class QuickMedia(OutSchema):
    """A quick message's file, as a message's shows it."""

    id: int = Field(exclude=True)
    media_path: str | None = Field(None, exclude=True)
    media_mimetype: str | None = None
    media_name: str | None = None

    @computed_field(description="the file, by a link that opens without Authorization for 24 hours; null: none")
    def media_url(self) -> str | None:
        return signed_link("quick-message", self.id) if self.media_path else None


class QuickMessageOut(QuickMedia):
    id: int
    shortcut: str
    body: str
    scope: Scope
    user_id: int | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class QuickMessageQuery(PageQuery):
    search: str | None = None
    scope: Scope | None = None


class RenderIn(Schema):
    ticket_id: int | None = Field(None, description="fill the contact's name, phone and e-mail and the queue from it")
    variables: dict[str, Any] = Field({}, description="values of your own; they win over the ticket's")


class RenderOut(QuickMedia):
    text: str


class MediaIn(Schema):
    voice_note: bool = Field(False, description="make the audio a voice note (Ogg/Opus), as POST /api/messages does")


def quick_message_json(row: QuickMessage) -> dict:
    scope = "company" if row.user_id is None else "personal"
    return QuickMessageOut.model_validate({**row.__data__, "user_id": row.user_id, "scope": scope}).to_json()


def visible_quick_message(quick_message_id: int) -> QuickMessage:
    row = shared_or_own(QuickMessage).where(QuickMessage.id == quick_message_id).first()
    if row is None:
        raise NotFound("quick message")
    return row


def ensure_writable(row: QuickMessage) -> None:
    """Personal ones are their owner's; company-wide ones are the managers'."""
    if row.user_id is None and current_principal().role not in WRITERS_OF_COMPANY_WIDE:
        raise Forbidden("only supervisors and admins change company-wide quick messages")


def ensure_free_shortcut(shortcut: str, user_id: int | None, except_id: int | None = None) -> None:
    """409 when the same scope (the company's, or this user's) already has the shortcut."""
    clash = owned(QuickMessage).where(
        QuickMessage.shortcut == shortcut,
        QuickMessage.user.is_null() if user_id is None else QuickMessage.user == user_id,
    )
    if except_id is not None:
        clash = clash.where(QuickMessage.id != except_id)
    if clash.exists():
        raise Conflict("this shortcut is taken", {"shortcut": "already used"})


@blueprint.get("")
@endpoint(summary="List the quick messages the caller can use", tags=["quick-messages"], query=QuickMessageQuery,
          response=page_of(QuickMessageOut))
def list_quick_messages(query: QuickMessageQuery):
    rows = shared_or_own(QuickMessage).order_by(QuickMessage.shortcut, QuickMessage.id)
    if query.scope != "company":  # the caller's own shortcut hides the company's of the same name
        mine = QuickMessage.select(QuickMessage.shortcut).where(QuickMessage.user == current_principal().user.id)
        rows = rows.where(QuickMessage.user.is_null(False) | QuickMessage.shortcut.not_in(mine))
    if query.search:
        text = query.search.lstrip("/")
        rows = rows.where(holds(text, QuickMessage.shortcut, QuickMessage.body))
    if query.scope:
        rows = rows.where(QuickMessage.user.is_null() if query.scope == "company" else QuickMessage.user.is_null(False))
    return paginate(rows, query, quick_message_json)


@blueprint.post("")
@endpoint(summary="Create a quick message (personal, or company-wide for managers)", tags=["quick-messages"],
          body=QuickMessageCreate, response=QuickMessageOut, status=201, errors=[400, 403, 409])
def create_quick_message(body: QuickMessageCreate):
    principal = current_principal()
    if body.scope == "company" and principal.role not in WRITERS_OF_COMPANY_WIDE:
        raise Forbidden("only supervisors and admins create company-wide quick messages")
    owner = None if body.scope == "company" else principal.user.id
    ensure_free_shortcut(body.shortcut, owner)
    row = QuickMessage.create(company=principal.company_id, user=owner, shortcut=body.shortcut, body=body.body)
    return quick_message_json(row)


@blueprint.get("/<int:quick_message_id>")
@endpoint(summary="Show a quick message", tags=["quick-messages"], response=QuickMessageOut, errors=[404])
def show_quick_message(quick_message_id: int):
    return quick_message_json(visible_quick_message(quick_message_id))


@blueprint.patch("/<int:quick_message_id>")
@endpoint(summary="Change a quick message", tags=["quick-messages"], body=QuickMessageFields,
          response=QuickMessageOut, errors=[400, 403, 404, 409])
def update_quick_message(quick_message_id: int, body: QuickMessageFields):
    row = visible_quick_message(quick_message_id)
    ensure_writable(row)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("shortcut") is None:
        changes.pop("shortcut", None)
    else:
        ensure_free_shortcut(changes["shortcut"], row.user_id, except_id=row.id)
    if "body" in changes and changes["body"] is None:
        raise ValidationFailed("a quick message needs a body", {"body": "may not be null"})
    for name, value in changes.items():
        setattr(row, name, value)
    row.save()
    return quick_message_json(row)


@blueprint.delete("/<int:quick_message_id>")
@endpoint(summary="Delete a quick message", tags=["quick-messages"], status=204, errors=[403, 404])
def delete_quick_message(quick_message_id: int):
    row = visible_quick_message(quick_message_id)
    ensure_writable(row)
    row.delete_instance()


@blueprint.post("/<int:quick_message_id>/render")
@endpoint(summary="The quick message's text with variables filled ({{agent}} is the caller)",
          tags=["quick-messages"], body=RenderIn, response=RenderOut, errors=[404], optional_body=True)
def render_quick_message(quick_message_id: int, body: RenderIn | None):
    row = visible_quick_message(quick_message_id)
    body = body or RenderIn()
    if body.ticket_id is not None:
        known = ticket_variables(visible_ticket(body.ticket_id), agent=current_principal().user.name)
    else:
        known = standard_variables(name=str(body.variables.get("name", "")), agent=current_principal().user.name)
    variables = {**known, **body.variables}
    return RenderOut.model_validate({**row.__data__, "text": render_template(row.body, variables)})


@blueprint.put("/<int:quick_message_id>/media")
@endpoint(summary="Give the quick message a file to send along (multipart `file`), replacing any", tags=["quick-messages"],
          body=MediaIn, body_media_types=("multipart/form-data",), response=QuickMessageOut, errors=[400, 403, 404])
def upload_media(quick_message_id: int, body: MediaIn):
    row = visible_quick_message(quick_message_id)
    ensure_writable(row)
    upload = uploaded_file()
    if upload is None:
        raise ValidationFailed("send the file as the multipart field `file`", {"file": "missing"})
    row.media_path, row.media_mimetype, row.media_name = store_file(row.company_id, upload, body.voice_note)
    row.save()
    return quick_message_json(row)


@blueprint.delete("/<int:quick_message_id>/media")
@endpoint(summary="Take the quick message's file away", tags=["quick-messages"], response=QuickMessageOut,
          errors=[403, 404])
def delete_media(quick_message_id: int):
    row = visible_quick_message(quick_message_id)
    ensure_writable(row)
    row.media_path = row.media_mimetype = row.media_name = None
    row.save()
    return quick_message_json(row)
