"""Contact lists (a campaign's audience): CRUD, and their items, the company's contacts in them.

Everyone reads them; admins and supervisors make and fill them (as they run campaigns). Adding contacts
is idempotent (a contact is in a list once), and all or nothing: one id of another company (or none)
is a 404 and adds no contact.
"""

from __future__ import annotations

import peewee
from flask import Blueprint
from pydantic import Field

from api.audit import log_change, snapshot
from api.contact_json import ContactOut
from api.endpoint import endpoint
from api.errors import ApiError, Conflict, NotFound
from api.pagination import paginate
from api.resources.contacts import contact_page
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import database, holds, utcnow
from db.contact_lists import ContactList, ContactListItem
from db.contacts import Contact

blueprint = Blueprint("contact_lists", __name__, url_prefix="/api/contact-lists")
MANAGERS = ("super", "admin", "supervisor")
MAX_ITEMS_PER_REQUEST = 10_000


class ContactListIn(Schema):
    name: str = Field(min_length=1, max_length=100)


class ContactListOut(OutSchema):
    id: int
    name: str
    item_count: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


class ContactListQuery(PageQuery):
    search: str | None = Field(None, max_length=100)


class ItemsIn(Schema):
    contact_ids: list[int] = Field(min_length=1, max_length=MAX_ITEMS_PER_REQUEST)


class ItemsAddedOut(OutSchema):
    added: int = Field(description="contacts that were not in the list yet")
    item_count: int


def with_counts(lists: peewee.ModelSelect) -> peewee.ModelSelect:
    items = ContactListItem.select(peewee.fn.COUNT(ContactListItem.id)).where(ContactListItem.contact_list == ContactList.id)
    return lists.select_extend(items.alias("item_count"))


def list_json(contact_list: ContactList) -> dict:
    return ContactListOut.model_validate(contact_list).to_json()


def counted(list_id: int) -> dict:
    return list_json(with_counts(owned(ContactList)).where(ContactList.id == list_id).get())


def item_count(list_id: int) -> int:
    return ContactListItem.select().where(ContactListItem.contact_list == list_id).count()


def save_list(contact_list: ContactList) -> None:
    try:
        with database.atomic():
            contact_list.save()
    except peewee.IntegrityError:
        raise Conflict("a contact list with this name exists", {"name": "already taken"}) from None


@blueprint.get("")
@endpoint(summary="List the company's contact lists, with their sizes", tags=["contact-lists"],
          query=ContactListQuery, response=page_of(ContactListOut), scope="contacts:read")
def list_lists(query: ContactListQuery):
    lists = with_counts(owned(ContactList)).order_by(ContactList.name, ContactList.id)
    if query.search:
        lists = lists.where(holds(query.search, ContactList.name))
    return paginate(lists, query, list_json)


@blueprint.post("")
@endpoint(summary="Create a contact list", tags=["contact-lists"], body=ContactListIn, response=ContactListOut,
          status=201, roles=MANAGERS, errors=[409], scope="contacts:write")
def create_list(body: ContactListIn):
    contact_list = ContactList(company=current_principal().company_id, name=body.name)
    save_list(contact_list)
    log_change("created", contact_list)
    return counted(contact_list.id)


@blueprint.get("/<int:list_id>")
@endpoint(summary="Show a contact list", tags=["contact-lists"], response=ContactListOut, errors=[404],
          scope="contacts:read")
def show_list(list_id: int):
    get_owned(ContactList, list_id, "contact list")
    return counted(list_id)


@blueprint.patch("/<int:list_id>")
@endpoint(summary="Rename a contact list", tags=["contact-lists"], body=ContactListIn, response=ContactListOut,
          roles=MANAGERS, errors=[404, 409], scope="contacts:write")
def rename_list(list_id: int, body: ContactListIn):
    contact_list = get_owned(ContactList, list_id, "contact list")
    before = snapshot(contact_list)
    contact_list.name = body.name
    save_list(contact_list)
    log_change("updated", contact_list, before)
    return counted(list_id)


@blueprint.delete("/<int:list_id>")
@endpoint(summary="Delete a contact list (its contacts stay)", tags=["contact-lists"], status=204, roles=MANAGERS,
          errors=[404], scope="contacts:write")
def delete_list(list_id: int):
    contact_list = get_owned(ContactList, list_id, "contact list")
    log_change("deleted", contact_list)
    contact_list.delete_instance()


@blueprint.post("/<int:list_id>/items")
@endpoint(summary="Add contacts to the list (those in it already stay once); any unknown id adds none",
          tags=["contact-lists"], body=ItemsIn, response=ItemsAddedOut, roles=MANAGERS, errors=[404],
          scope="contacts:write")
def add_items(list_id: int, body: ItemsIn):
    get_owned(ContactList, list_id, "contact list")
    wanted = list(dict.fromkeys(body.contact_ids))
    found = {row_id for (row_id,) in owned(Contact).select(Contact.id).where(Contact.id.in_(wanted)).tuples()}
    if missing := [contact_id for contact_id in wanted if contact_id not in found]:
        raise ApiError(404, "contact not found", "not_found", {"contactIds": f"unknown ids: {missing[:50]}"})
    now = utcnow()
    inserted = ContactListItem.insert_many(
        [{"contact_list": list_id, "contact": contact_id, "created_at": now} for contact_id in wanted]
    ).on_conflict_ignore().returning(ContactListItem.id).execute()
    return ItemsAddedOut(added=len(list(inserted)), item_count=item_count(list_id))


@blueprint.get("/<int:list_id>/items")
@endpoint(summary="The list's contacts, in the order they were added", tags=["contact-lists"], query=PageQuery,
          response=page_of(ContactOut), errors=[404], scope="contacts:read")
def list_items(list_id: int, query: PageQuery):
    get_owned(ContactList, list_id, "contact list")
    contacts = (owned(Contact).join(ContactListItem, on=(ContactListItem.contact == Contact.id))
                .where(ContactListItem.contact_list == list_id).order_by(ContactListItem.id))
    return contact_page(contacts, query)


@blueprint.delete("/<int:list_id>/items/<int:contact_id>")
@endpoint(summary="Take a contact out of the list", tags=["contact-lists"], status=204, roles=MANAGERS, errors=[404],
          scope="contacts:write")
def remove_item(list_id: int, contact_id: int):
    get_owned(ContactList, list_id, "contact list")
    removed = ContactListItem.delete().where(ContactListItem.contact_list == list_id,
                                             ContactListItem.contact == contact_id).execute()
    if not removed:
        raise NotFound("contact in this list")
