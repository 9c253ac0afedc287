"""Tags: a name and a colour, put on contacts (`tagIds`) and tickets (`PUT /api/tickets/:id/tags`); a tag with a
`boardPosition` is a lane of the ticket board (api/resources/ticket_board.py).

Names are unique per company without regard to case. Everyone reads them and puts them on contacts;
admins and supervisors create, rename and delete them (a deleted tag leaves every contact and ticket).
"""

from __future__ import annotations

from typing import Annotated

import peewee
from flask import Blueprint
from pydantic import AfterValidator, Field

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import Conflict
from api.pagination import paginate
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import database, holds
from db.contacts import ContactTag, Tag
from db.tickets import TicketTag

blueprint = Blueprint("tags", __name__, url_prefix="/api/tags")
MANAGERS = ("super", "admin", "supervisor")

Color = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb"), AfterValidator(str.lower)]


class TagFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    color: Color | None = None
    board_position: int | None = Field(None, ge=0, le=999, description="a lane of the ticket board, the lanes in this "
                                       "order (then by name); null: not a lane")


class TagCreate(TagFields):
    name: str = Field(min_length=1, max_length=100)


class TagOut(OutSchema):
    id: int
    name: str
    color: str
    board_position: int | None
    contact_count: int
    ticket_count: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class TagQuery(PageQuery):
    search: str | None = Field(None, max_length=100)


def with_counts(tags: peewee.ModelSelect) -> peewee.ModelSelect:
    contacts = ContactTag.select(peewee.fn.COUNT(ContactTag.id)).where(ContactTag.tag == Tag.id)
    tickets = TicketTag.select(peewee.fn.COUNT(TicketTag.id)).where(TicketTag.tag == Tag.id)
    return tags.select_extend(contacts.alias("contact_count"), tickets.alias("ticket_count"))


def tag_json(tag: Tag) -> dict:
    return TagOut.model_validate(tag).to_json()


def counted(tag_id: int) -> Tag:
    return with_counts(owned(Tag)).where(Tag.id == tag_id).get()


def save_tag(tag: Tag, body: TagFields) -> None:
    """Write the fields sent (null clears only `boardPosition`: a 400 for the others); 409 when another tag of the
    company has the name (in any case)."""
    changes = body.changes(not_null={"name", "color"})
    if "name" in changes:
        same_name = owned(Tag).where(peewee.fn.LOWER(Tag.name) == changes["name"].lower())
        if tag.id is not None:
            same_name = same_name.where(Tag.id != tag.id)
        if same_name.exists():
            raise Conflict("a tag with this name exists", {"name": "already taken"})
    for name, value in changes.items():
        setattr(tag, name, value)
    try:
        with database.atomic():
            tag.save()
    except peewee.IntegrityError:  # a concurrent request took the name
        raise Conflict("a tag with this name exists", {"name": "already taken"}) from None


@blueprint.get("")
@endpoint(summary="List the company's tags by name, with how many contacts and tickets carry each", tags=["tags"],
          query=TagQuery, response=page_of(TagOut), scope="contacts:read")
def list_tags(query: TagQuery):
    tags = with_counts(owned(Tag)).order_by(Tag.name, Tag.id)
    if query.search:
        tags = tags.where(holds(query.search, Tag.name))
    return paginate(tags, query, tag_json)


@blueprint.post("")
@endpoint(summary="Create a tag", tags=["tags"], body=TagCreate, response=TagOut, status=201, roles=MANAGERS,
          errors=[409], scope="contacts:write")
def create_tag(body: TagCreate):
    tag = Tag(company=current_principal().company_id)
    save_tag(tag, body)
    log_change("created", tag)
    return tag_json(counted(tag.id))


@blueprint.get("/<int:tag_id>")
@endpoint(summary="Show a tag", tags=["tags"], response=TagOut, errors=[404], scope="contacts:read")
def show_tag(tag_id: int):
    get_owned(Tag, tag_id, "tag")
    return tag_json(counted(tag_id))


@blueprint.patch("/<int:tag_id>")
@endpoint(summary="Rename or recolour a tag", tags=["tags"], body=TagFields, response=TagOut, roles=MANAGERS,
          errors=[404, 409], scope="contacts:write")
def update_tag(tag_id: int, body: TagFields):
    tag = get_owned(Tag, tag_id, "tag")
    before = snapshot(tag)
    save_tag(tag, body)
    log_change("updated", tag, before)
    return tag_json(counted(tag.id))


@blueprint.delete("/<int:tag_id>")
@endpoint(summary="Delete a tag; it leaves every contact and ticket", tags=["tags"], status=204, roles=MANAGERS,
          errors=[404], scope="contacts:write")
def delete_tag(tag_id: int):
    tag = get_owned(Tag, tag_id, "tag")
    log_change("deleted", tag)
    tag.delete_instance()
