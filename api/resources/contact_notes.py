"""Notes on a contact (Chatwoot's contact notes): what agents write down about a customer, beside every conversation
with them, never sent to them. Every role reads and writes them, as contacts; a note is changed or deleted by its
author, or by an admin or supervisor. Programs use `contacts:read` / `contacts:write`.
"""

from __future__ import annotations

from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.errors import Forbidden, NotFound
from api.pagination import paginate
from api.resources.contacts import DELETERS
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned
from api.security import current_principal
from db.contacts import Contact, ContactNote

blueprint = Blueprint("contact_notes", __name__, url_prefix="/api/contacts")


class ContactNoteIn(Schema):
    body: str = Field(min_length=1, max_length=8192)


class ContactNoteOut(OutSchema):
    id: int
    contact_id: int
    user_id: int | None
    body: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


def note_json(note: ContactNote) -> dict:
    return ContactNoteOut(id=note.id, contact_id=note.contact_id, user_id=note.user_id, body=note.body,
                          created_at=note.created_at, updated_at=note.updated_at).to_json()


def own_note(contact_id: int, note_id: int) -> ContactNote:
    """The contact's note, for its author or a manager to change (a 403 for another's, a 404 for none)."""
    contact = get_owned(Contact, contact_id, "contact")
    note = ContactNote.get_or_none(ContactNote.id == note_id, ContactNote.contact == contact.id)
    if note is None:
        raise NotFound("note")
    principal = current_principal()
    author = principal.user is not None and note.user_id == principal.user.id
    if not author and principal.role not in (*DELETERS, "api_key"):
        raise Forbidden("only its author, an admin or a supervisor changes a note")
    return note


@blueprint.get("/<int:contact_id>/notes")
@endpoint(summary="The notes on a contact, newest first", tags=["contacts"], query=PageQuery,
          response=page_of(ContactNoteOut), errors=[404], scope="contacts:read")
def list_notes(contact_id: int, query: PageQuery):
    contact = get_owned(Contact, contact_id, "contact")
    notes = ContactNote.select().where(ContactNote.contact == contact.id).order_by(ContactNote.created_at.desc(),
                                                                                   ContactNote.id.desc())
    return paginate(notes, query, note_json)


@blueprint.post("/<int:contact_id>/notes")
@endpoint(summary="Write a note on a contact", tags=["contacts"], body=ContactNoteIn, response=ContactNoteOut,
          status=201, errors=[404], scope="contacts:write")
def add_note(contact_id: int, body: ContactNoteIn):
    contact = get_owned(Contact, contact_id, "contact")
    user = current_principal().user
    return note_json(ContactNote.create(contact=contact.id, user=user.id if user else None, body=body.body))


@blueprint.patch("/<int:contact_id>/notes/<int:note_id>")
@endpoint(summary="Change a note's text (its author, an admin or a supervisor)", tags=["contacts"],
          body=ContactNoteIn, response=ContactNoteOut, errors=[403, 404], scope="contacts:write")
def change_note(contact_id: int, note_id: int, body: ContactNoteIn):
    note = own_note(contact_id, note_id)
    note.body = body.body
    note.save()
    return note_json(note)


@blueprint.delete("/<int:contact_id>/notes/<int:note_id>")
@endpoint(summary="Delete a note (its author, an admin or a supervisor)", tags=["contacts"], status=204,
          errors=[403, 404], scope="contacts:write")
def delete_note(contact_id: int, note_id: int):
    own_note(contact_id, note_id).delete_instance()
    return "", 204
