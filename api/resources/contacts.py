"""Contacts: the company's customers on WhatsApp. CRUD, search, filters, sort, pages, and a streamed CSV export.

Phones are stored in E.164, read in the company's default country, one contact per phone. Roles: every
user (agents included) lists, reads, creates and edits contacts; only admins and supervisors delete one (its
tickets and messages go with it). The export (every contact at once) is for admins and supervisors, like the
import. Blocking a contact (`blocked`) blocks them on WhatsApp too, on the numbers that talked with them
(workers/contact_blocks.py).
Programs use API keys with `contacts:read` / `contacts:write`. Changes are announced as `contact:new`,
`contact:update` and `contact:delete` (realtime and webhooks).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

import peewee
from flask import Blueprint
from pydantic import EmailStr, Field

from api.contact_json import ContactOut, contact_json, tags_by_contact
from api.csv_export import csv_download, csv_text
from api.endpoint import endpoint
from api.errors import Conflict, Forbidden, NotFound, ValidationFailed
from api.pagination import paginate
from api.resources.contact_fields import CONTACT_FIELDS
from api.resources.queues import owned_ids
from api.schemas import PageQuery, Schema, iso_utc, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import holds, in_id_batches, utcnow
from db.companies import Company
from db.contact_lists import ContactList, ContactListItem
from db.contacts import Contact, ContactTag, Tag
from db.users import User
from wharf.phones import InvalidPhone, to_e164
from workers.contact_blocks import block_on_whatsapp
from workers.events import Announcements, announcing

blueprint = Blueprint("contacts", __name__, url_prefix="/api/contacts")
DELETERS = ("super", "admin", "supervisor")
BULK_ROLES = ("super", "admin", "supervisor")
NOT_NULL = frozenset({"phone", "tag_ids", "custom_fields", "blocked"})
SORTABLE = {
    "name": peewee.fn.LOWER(Contact.name),
    "phone": Contact.phone,
    "email": peewee.fn.LOWER(Contact.email),
    "createdAt": Contact.created_at,
    "updatedAt": Contact.updated_at,
}
Sort = Literal[tuple(f"{direction}{key}" for key in SORTABLE for direction in ("", "-"))]  # type: ignore[valid-type]


class ContactFields(Schema):
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, min_length=1, max_length=40,
                              description="any form; stored as E.164 (the company's default country)")
    email: EmailStr | None = None
    tag_ids: list[int] | None = Field(None, max_length=100, description="replaces the contact's tags")
    custom_fields: dict[str, Any] | None = Field(
        None, description="{key: value} of fields defined at /api/contact-fields; null removes a value")
    blocked: bool | None = Field(None, description="sent nothing, their messages dropped, and blocked on WhatsApp by "
                                 "the numbers that talked with them (not a group: WhatsApp blocks none)")
    owner_id: int | None = Field(None, description="the agent whose contact it is: they get its new tickets at once; "
                                                   "set by admins and supervisors")


class ContactCreate(ContactFields):
    phone: str = Field(min_length=1, max_length=40, description="any form; stored as E.164 (the company's default "
                       "country)")


class ContactFilters(PageQuery):
    search: str | None = Field(None, max_length=200, description="name, phone or e-mail, ignoring case and accents")
    tag: int | None = Field(None, description="a tag id")
    list_id: int | None = Field(None, alias="list", description="a contact list id")
    blocked: bool | None = None
    is_group: bool | None = Field(None, description="groups only (true), or people only (false)")
    owner_id: int | None = Field(None, description="the contacts of this owner (a user id)")
    on_whatsapp: Literal["true", "false", "unknown"] | None = Field(None, description="on WhatsApp, not on it, or "
                                                                    "never checked")
    field: str | None = Field(None, max_length=50, description="a contact field's key: the contacts with a value in it")
    value: str | None = Field(None, max_length=200, description="with `field`: the contacts whose value in it is this, "
                                                                 "ignoring case and accents (a boolean: true or false)")
    sort: Sort = Field("name", description="a field, with - for descending")


def contact_page(contacts: peewee.ModelSelect, page: PageQuery) -> dict[str, Any]:
    """A page of contacts with their tags (one query for the tags of the whole page)."""
    ids = [row.id for row in contacts.select(Contact.id).paginate(page.page, page.page_size)]
    tags = tags_by_contact(ids)
    return paginate(contacts, page, lambda contact: contact_json(contact, tags.get(contact.id, [])))


def filtered(query: ContactFilters) -> peewee.ModelSelect:
    """The company's contacts that match the filters; 404 for a tag or list of another company."""
    contacts = owned(Contact)
    if query.tag is not None:
        get_owned(Tag, query.tag, "tag")
        contacts = contacts.where(Contact.id.in_(ContactTag.select(ContactTag.contact).where(ContactTag.tag == query.tag)))
    if query.list_id is not None:
        get_owned(ContactList, query.list_id, "contact list")
        members = ContactListItem.select(ContactListItem.contact).where(ContactListItem.contact_list == query.list_id)
        contacts = contacts.where(Contact.id.in_(members))
    if query.blocked is not None:
        contacts = contacts.where(Contact.blocked == query.blocked)
    if query.is_group is not None:
        contacts = contacts.where(Contact.is_group == query.is_group)
    if query.owner_id is not None:
        contacts = contacts.where(Contact.owner == query.owner_id)
    if query.on_whatsapp is not None:
        known = {"true": True, "false": False}.get(query.on_whatsapp)
        contacts = contacts.where(Contact.on_whatsapp.is_null() if known is None else Contact.on_whatsapp == known)
    if (by_field := CONTACT_FIELDS.filter(query.field, query.value, ("field", "value"))) is not None:
        contacts = contacts.where(by_field)
    if query.search:
        text = query.search
        matches = holds(text, Contact.name, Contact.email, Contact.phone)
        digits = re.sub(r"\D", "", query.search)
        if digits and digits != query.search:  # "(11) 98765" finds +5511987654321
            matches |= holds(digits, Contact.phone)
        contacts = contacts.where(matches)
    return contacts


def sorted_by(contacts: peewee.ModelSelect, sort: str) -> peewee.ModelSelect:
    field = SORTABLE[sort.lstrip("-")]
    descending = sort.startswith("-")
    order = field.desc(nulls="LAST") if descending else field.asc(nulls="LAST")
    return contacts.order_by(order, Contact.id.desc() if descending else Contact.id)


def normal_phone(raw: str) -> str:
    try:
        return to_e164(raw, Company.get_by_id(current_principal().company_id).default_country)
    except InvalidPhone as error:
        raise ValidationFailed("the phone is not a valid number", {"phone": str(error)}) from None


def apply_changes(contact: Contact, body: ContactFields) -> list[int] | None:
    """Set the fields sent on `contact` (nothing saved); returns the tag ids to set, None to keep them."""
    changes = body.changes(not_null=NOT_NULL)
    if "phone" in changes:
        if contact.is_group:
            raise ValidationFailed("a group's id cannot change", {"phone": "the contact is a group"})
        contact.phone = normal_phone(changes["phone"])
    if "name" in changes:
        contact.name = changes["name"] or ""
    if "email" in changes:
        contact.email = changes["email"].lower() if changes["email"] else None
    if "blocked" in changes:
        contact.blocked = changes["blocked"]
    if "owner_id" in changes and changes["owner_id"] != contact.owner_id:
        principal = current_principal()
        if principal.user is not None and principal.role not in BULK_ROLES:
            raise Forbidden("only admins and supervisors give contacts to agents", "insufficient_role")
        if changes["owner_id"] is not None:
            owned_ids(User, [changes["owner_id"]], "ownerId")
        contact.owner = changes["owner_id"]
    if changes.get("custom_fields"):
        contact.custom_fields = CONTACT_FIELDS.merged(contact.company_id, contact.custom_fields, changes["custom_fields"])
    tag_ids = changes.get("tag_ids")
    if tag_ids is not None:
        tag_ids = list(dict.fromkeys(tag_ids))
        if owned(Tag).where(Tag.id.in_(tag_ids)).count() != len(tag_ids):
            raise NotFound("tag")
    return tag_ids


def save_contact(contact: Contact, tag_ids: list[int] | None, event: str) -> dict:
    """Save the contact and set its tags, announced as `event` (its webhooks commit with it); the contact's
    JSON. 409 when another contact of the company has the phone."""
    others = owned(Contact).where(Contact.phone == contact.phone)
    other = (others if contact.id is None else others.where(Contact.id != contact.id)).first()
    if other is not None:
        raise Conflict("another contact has this phone", {"phone": f"already contact {other.id}"})
    try:
        with announcing() as announcements:
            contact.save()
            if tag_ids is not None:
                ContactTag.delete().where(ContactTag.contact == contact.id).execute()
                if tag_ids:
                    ContactTag.insert_many([{"contact": contact.id, "tag": tag_id} for tag_id in tag_ids]).execute()
            body = announce(announcements, event, contact)
    except peewee.IntegrityError:  # a concurrent request took the phone
        raise Conflict("another contact has this phone", {"phone": "already a contact"}) from None
    return body


def announce(announcements: Announcements, event: str, contact: Contact) -> dict:
    """Announce the contact as it is now (inside the change's transaction); its JSON."""
    body = contact_json(contact)
    announcements.add(event, contact.company_id, body)
    return body


@blueprint.get("")
@endpoint(summary="List contacts: search, filters by tag and list, sort and pages", tags=["contacts"],
          query=ContactFilters, response=page_of(ContactOut), errors=[404], scope="contacts:read")
def list_contacts(query: ContactFilters):
    return contact_page(sorted_by(filtered(query), query.sort), query)


@blueprint.get("/export")
@endpoint(summary="The contacts of the list's filters as a CSV download (streamed in id order; no pages). Its "
          "columns import again as they are", tags=["contacts"], query=ContactFilters, roles=BULK_ROLES,
          errors=[404], scope="contacts:read")
def export_contacts(query: ContactFilters):
    keys = CONTACT_FIELDS.keys()
    header = ["id", "name", "phone", "email", "tags", "blocked", "createdAt", "updatedAt", *keys]
    contacts = filtered(query)

    def rows() -> Iterator[list[Any]]:
        for batch in in_id_batches(contacts):
            tags = tags_by_contact([contact.id for contact in batch])
            for contact in batch:
                values = [contact.custom_fields.get(key) for key in keys]
                yield [contact.id, contact.name, contact.phone, contact.email,
                       ", ".join(tag["name"] for tag in tags[contact.id]), contact.blocked,
                       iso_utc(contact.created_at), iso_utc(contact.updated_at), *values]

    return csv_download(f"contacts-{iso_utc(utcnow())[:10]}.csv", header, (map(csv_text, row) for row in rows()))


@blueprint.post("")
@endpoint(summary="Create a contact", tags=["contacts"], body=ContactCreate, response=ContactOut, status=201,
          errors=[404, 409], scope="contacts:write")
def create_contact(body: ContactCreate):
    contact = Contact(company=current_principal().company_id, custom_fields={})
    tag_ids = apply_changes(contact, body)
    return save_contact(contact, tag_ids, "contact:new")


@blueprint.get("/<int:contact_id>")
@endpoint(summary="Show a contact", tags=["contacts"], response=ContactOut, errors=[404], scope="contacts:read")
def show_contact(contact_id: int):
    return contact_json(get_owned(Contact, contact_id, "contact"))


@blueprint.patch("/<int:contact_id>")
@endpoint(summary="Change a contact (customFields are merged: null removes one; tagIds replace the tags)",
          tags=["contacts"], body=ContactFields, response=ContactOut, errors=[404, 409], scope="contacts:write")
def update_contact(contact_id: int, body: ContactFields):
    contact = get_owned(Contact, contact_id, "contact")
    was_blocked = contact.blocked
    tag_ids = apply_changes(contact, body)
    saved = save_contact(contact, tag_ids, "contact:update")
    if contact.blocked != was_blocked:
        block_on_whatsapp(contact)
    return saved


@blueprint.delete("/<int:contact_id>")
@endpoint(summary="Delete a contact with its tickets and messages", tags=["contacts"], status=204, roles=DELETERS,
          errors=[404], scope="contacts:write")
def delete_contact(contact_id: int):
    contact = get_owned(Contact, contact_id, "contact")
    body = contact_json(contact)
    with announcing() as announcements:
        contact.delete_instance()
        announcements.add("contact:delete", contact.company_id, body)
