"""Custom fields of contacts: the company defines each (key, label, type) and contacts' values are checked
against it (wharf.custom_fields). Everyone reads the definitions; admins manage them (programs: API keys
with `contacts:read` / `contacts:write`).

A field's key and type are fixed once created (values were checked against them); deleting a field
removes its values from every contact.
"""

from __future__ import annotations

from typing import Any, Literal

import peewee
from flask import Blueprint
from pydantic import Field

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import Conflict, ValidationFailed
from api.pagination import paginate
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import database, is_postgres
from db.contacts import CUSTOM_FIELD_TYPES, Contact, ContactField
from wharf.custom_fields import InvalidValue, check_value

blueprint = Blueprint("contact_fields", __name__, url_prefix="/api/contact-fields")
MANAGERS = ("super", "admin")
RESERVED_KEYS = frozenset({"id", "name", "phone", "email", "tags", "blocked"})

FieldType = Literal[CUSTOM_FIELD_TYPES]  # type: ignore[valid-type]


class ContactFieldCreate(Schema):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$", description="how values are named in customFields")
    label: str = Field(min_length=1, max_length=100)
    type: FieldType = "text"


class ContactFieldUpdate(Schema):
    label: str = Field(min_length=1, max_length=100)


class ContactFieldOut(OutSchema):
    id: int
    key: str
    label: str
    type: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


def field_json(row: ContactField) -> dict:
    return ContactFieldOut.model_validate(row).to_json()


def checked_custom_fields(company_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """`values` in their stored forms, null meaning "remove"; 400 naming each unknown key or misfit value."""
    types = dict(ContactField.select(ContactField.key, ContactField.type)
                 .where(ContactField.company == company_id, ContactField.key.in_(list(values))).tuples())
    checked: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, value in values.items():
        if key not in types:
            problems[f"customFields.{key}"] = "no such custom field (see /api/contact-fields)"
        elif value is None:
            checked[key] = None
        else:
            try:
                checked[key] = check_value(types[key], value)
            except InvalidValue as error:
                problems[f"customFields.{key}"] = str(error)
    if problems:
        raise ValidationFailed("some custom fields are not valid", problems)
    return checked


def remove_values(company_id: int, key: str) -> None:
    """Take the field's key out of every contact's custom fields, in one statement."""
    if is_postgres():
        without = peewee.Cast(peewee.NodeList((Contact.custom_fields.cast("jsonb"), peewee.SQL("- %s", (key,)))),
                              "text")
        has_key = peewee.fn.jsonb_exists(Contact.custom_fields.cast("jsonb"), key)
    else:
        without = peewee.fn.json_remove(Contact.custom_fields, f'$."{key}"')
        has_key = peewee.fn.json_extract(Contact.custom_fields, f'$."{key}"').is_null(False)
    Contact.update(custom_fields=without).where(Contact.company == company_id, has_key).execute()


@blueprint.get("")
@endpoint(summary="List the custom fields of contacts", tags=["contacts"], query=PageQuery,
          response=page_of(ContactFieldOut), scope="contacts:read")
def list_fields(query: PageQuery):
    return paginate(owned(ContactField).order_by(ContactField.label, ContactField.id), query, field_json)


@blueprint.post("")
@endpoint(summary="Define a custom field of contacts (text, number, date or boolean)", tags=["contacts"],
          body=ContactFieldCreate, response=ContactFieldOut, status=201, roles=MANAGERS, errors=[409],
          scope="contacts:write")
def create_field(body: ContactFieldCreate):
    if body.key in RESERVED_KEYS:
        raise ValidationFailed("this key is taken by a contact's own field", {"key": "reserved"})
    row = ContactField(company=current_principal().company_id, **body.model_dump())
    try:
        with database.atomic():
            row.save()
    except peewee.IntegrityError:
        raise Conflict("a custom field with this key exists", {"key": "already taken"}) from None
    log_change("created", row)
    return field_json(row)


@blueprint.get("/<int:field_id>")
@endpoint(summary="Show a custom field", tags=["contacts"], response=ContactFieldOut, errors=[404],
          scope="contacts:read")
def show_field(field_id: int):
    return field_json(get_owned(ContactField, field_id, "custom field"))


@blueprint.patch("/<int:field_id>")
@endpoint(summary="Rename a custom field (its key and type stay)", tags=["contacts"], body=ContactFieldUpdate,
          response=ContactFieldOut, roles=MANAGERS, errors=[404], scope="contacts:write")
def update_field(field_id: int, body: ContactFieldUpdate):
    row = get_owned(ContactField, field_id, "custom field")
    before = snapshot(row)
    row.label = body.label
    row.save()
    log_change("updated", row, before)
    return field_json(row)


@blueprint.delete("/<int:field_id>")
@endpoint(summary="Delete a custom field and its values on every contact", tags=["contacts"], status=204,
          roles=MANAGERS, errors=[404], scope="contacts:write")
def delete_field(field_id: int):
    row = get_owned(ContactField, field_id, "custom field")
    log_change("deleted", row)
    with database.atomic():
        remove_values(row.company_id, row.key)
        row.delete_instance()
