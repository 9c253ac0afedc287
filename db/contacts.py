"""Contacts (the company's customers on WhatsApp), their tags, and the custom fields a company defines."""

import functools
import operator
from collections.abc import Collection

import peewee

from db.base import BaseModel, JSONField, TimestampedModel, json_text, same_text
from db.companies import Company
from db.users import User


class Tag(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="tags", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    color = peewee.CharField(max_length=9, default="#7c7c7c")
    board_position = peewee.SmallIntegerField(null=True)  # a lane of the ticket board, in this order; None: not one

    class Meta:
        indexes = ((("company", "name"), True),)


class Contact(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="contacts", on_delete="CASCADE")
    name = peewee.CharField(max_length=200, default="")
    phone = peewee.CharField(max_length=64)  # E.164, or a group id for group chats
    email = peewee.CharField(max_length=254, null=True)
    custom_fields = JSONField(default=dict)
    blocked = peewee.BooleanField(default=False)
    is_group = peewee.BooleanField(default=False)
    opted_out_at = peewee.DateTimeField(null=True)
    # Its WhatsApp profile picture, kept in the media store (workers/profile_pictures.py): the file's key, WhatsApp's id
    # of the picture, and when WhatsApp was last asked (for the picture and, of a group, its subject: its name)
    profile_pic_path = peewee.TextField(null=True)
    profile_pic_id = peewee.CharField(max_length=64, null=True)
    profile_pic_checked_at = peewee.DateTimeField(null=True)
    # Whether the number is on WhatsApp, as a session last found it (None: never checked): campaigns skip a False
    on_whatsapp = peewee.BooleanField(null=True)
    whatsapp_checked_at = peewee.DateTimeField(null=True)
    # The agent whose contact it is (a portfolio): they get its new tickets at once (workers/assignment.py)
    owner = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    # A group's members as a session last saw them (workers/groups.py): [{"phone", "admin", "superAdmin"}]
    participants = JSONField(null=True)

    class Meta:
        indexes = ((("company", "phone"), True), (("company", "name"), False))


class ContactNote(TimestampedModel):
    """What an agent wrote down about the contact (the customer, across their conversations), never sent to them."""

    contact = peewee.ForeignKeyField(Contact, backref="notes", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")  # None: a program, or a user since deleted
    body = peewee.TextField()

    class Meta:
        indexes = ((("contact", "created_at"), False),)


CUSTOM_FIELD_TYPES = ("text", "number", "date", "boolean")


class CustomFieldDefinition(TimestampedModel):
    """A custom field of the company's records (contacts, tickets): its values live in the record's
    `custom_fields[key]`, checked against `type` (wharf.custom_fields)."""

    key = peewee.CharField(max_length=50)
    label = peewee.CharField(max_length=100)
    type = peewee.CharField(max_length=10, default="text")


def field_types(definition: type[CustomFieldDefinition], company_id: int, keys: Collection[str]) -> dict[str, str]:
    """{key: type} of the company's fields of that kind among `keys`."""
    return dict(definition.select(definition.key, definition.type)
                .where(definition.company == company_id, definition.key.in_(list(keys))).tuples())


class ContactField(CustomFieldDefinition):
    company = peewee.ForeignKeyField(Company, backref="contact_fields", on_delete="CASCADE")

    class Meta:
        indexes = ((("company", "key"), True),)


def field_is(key: str, values: Collection[str], custom_fields: peewee.Field = Contact.custom_fields) -> peewee.Expression:
    """Records (contacts, or tickets by their `custom_fields`) whose custom field `key` holds one of `values`, ignoring
    case and accents (a boolean reads `true` or `false`, as automation rules read it)."""
    value = json_text(custom_fields, key)
    return functools.reduce(operator.or_, (same_text(value, text) for text in values))


def field_set(key: str, custom_fields: peewee.Field = Contact.custom_fields) -> peewee.Expression:
    """Records whose custom field `key` holds a value."""
    value = json_text(custom_fields, key)
    return value.is_null(False) & (value != "")


class ContactTag(BaseModel):
    contact = peewee.ForeignKeyField(Contact, backref="tag_links", on_delete="CASCADE")
    tag = peewee.ForeignKeyField(Tag, backref="contact_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("contact", "tag"), True),)


def change_tag_links(links: type[BaseModel], owner: peewee.ForeignKeyField, owner_id: int, tag_ids: Collection[int],
                     add: bool) -> None:
    """Add the tags to a contact's or a ticket's (`links` ContactTag or TicketTag, `owner` its contact or ticket
    field): those it has stay once; or take them off. Its other tags stay."""
    if add:
        links.insert_many([{owner.name: owner_id, "tag": tag_id} for tag_id in tag_ids]).on_conflict_ignore().execute()
    else:
        links.delete().where(owner == owner_id, links.tag.in_(list(tag_ids))).execute()


def change_contact_tags(contact_id: int, tag_ids: Collection[int], add: bool) -> None:
    change_tag_links(ContactTag, ContactTag.contact, contact_id, tag_ids, add)
