"""Custom fields of a company's records, its contacts' or its tickets' (Chatwoot's contact and conversation attributes):
the company defines each (key, label, type) and the records' values are checked against it (wharf.custom_fields).
Everyone reads the definitions; admins manage them (programs: API keys with the records' read and write scopes).

A field's key and type are fixed once created (values were checked against them); deleting a field removes its
values from every record.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from db.contacts import CUSTOM_FIELD_TYPES, CustomFieldDefinition, field_is, field_set, field_types
from wharf.custom_fields import checked_values, without_removed

MANAGERS = ("super", "admin")

FieldType = Literal[CUSTOM_FIELD_TYPES]  # type: ignore[valid-type]


class CustomFieldCreate(Schema):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$", description="how values are named in customFields")
    label: str = Field(min_length=1, max_length=100)
    type: FieldType = "text"


class CustomFieldUpdate(Schema):
    label: str = Field(min_length=1, max_length=100)


class CustomFieldOut(OutSchema):
    id: int
    key: str
    label: str
    type: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


def field_json(row: CustomFieldDefinition) -> dict:
    return CustomFieldOut.model_validate(row).to_json()


@dataclass(frozen=True)
class FieldDefinitions:
    """The custom fields of one kind of record: `definition` the model of their definitions, `records` the model whose
    rows keep the values in `custom_fields` (with a `company`)."""

    definition: type[CustomFieldDefinition]
    records: type[peewee.Model]
    noun: str  # "contact", "ticket"
    reserved: frozenset[str]  # the record's own fields, which no custom field may be named after
    read_scope: str
    write_scope: str

    def checked(self, company_id: int, values: dict[str, Any]) -> dict[str, Any]:
        """`values` in their stored forms, null meaning "remove"; 400 naming each unknown key or misfit value."""
        checked, problems = checked_values(field_types(self.definition, company_id, values), values,
                                           f"no such custom field (see /api/{self.noun}-fields)")
        if problems:
            raise ValidationFailed("some custom fields are not valid",
                                   {f"customFields.{key}": why for key, why in problems.items()})
        return checked

    def keys(self) -> list[str]:
        """The keys of the caller's company's fields, in the order they were made (an export's columns)."""
        return [key for (key,) in owned(self.definition).select(self.definition.key).order_by(
            self.definition.id).tuples()]

    def merged(self, company_id: int, current: dict | None, values: dict[str, Any]) -> dict[str, Any]:
        """A record's custom fields after a change of some (`values`, checked; null removes one)."""
        return without_removed(current, self.checked(company_id, values))

    def filter(self, key: str | None, value: str | None, names: tuple[str, str]) -> peewee.Expression | None:
        """The records a list's custom-field filter keeps (`names`: its parameters, the key's and the value's): those
        with a value in the field, or with that value, ignoring case and accents; None when not asked. A 400 for a
        value without its field, or a key that is none of the fields'."""
        if value is not None and key is None:
            raise ValidationFailed(f"name the {self.noun} field the value is of", {names[0]: "missing"})
        if key is None:
            return None
        self.known(key, names[0])
        column = self.records.custom_fields
        return field_set(key, column) if value is None else field_is(key, [value], column)

    def known(self, key: str, where: str) -> None:
        """A 400 naming `where` for a key that is none of the company's fields."""
        if not owned(self.definition).where(self.definition.key == key).exists():
            raise ValidationFailed(f"no {self.noun} field has that key", {where: f"{key!r} is no {self.noun} field's key"})

    def remove_values(self, company_id: int, key: str) -> None:
        """Take the field's key out of every record's custom fields, in one statement."""
        column = self.records.custom_fields
        if is_postgres():
            without = peewee.Cast(peewee.NodeList((column.cast("jsonb"), peewee.SQL("- %s", (key,)))), "text")
            has_key = peewee.fn.jsonb_exists(column.cast("jsonb"), key)
        else:
            without = peewee.fn.json_remove(column, f'$."{key}"')
            has_key = peewee.fn.json_extract(column, f'$."{key}"').is_null(False)
        self.records.update(custom_fields=without).where(self.records.company == company_id, has_key).execute()

    def blueprint(self, name: str, url_prefix: str) -> Blueprint:
        """The definitions' CRUD under `url_prefix`."""
        blueprint = Blueprint(name, __name__, url_prefix=url_prefix)
        definition, noun, tags = self.definition, self.noun, [f"{self.noun}s"]

        @blueprint.get("")
        @endpoint(summary=f"List the custom fields of {noun}s", tags=tags, query=PageQuery,
                  response=page_of(CustomFieldOut), scope=self.read_scope)
        def list_fields(query: PageQuery):
            return paginate(owned(definition).order_by(definition.label, definition.id), query, field_json)

        @blueprint.post("")
        @endpoint(summary=f"Define a custom field of {noun}s (text, number, date or boolean)", tags=tags,
                  body=CustomFieldCreate, response=CustomFieldOut, status=201, roles=MANAGERS, errors=[409],
                  scope=self.write_scope)
        def create_field(body: CustomFieldCreate):
            if body.key in self.reserved:
                raise ValidationFailed(f"this key is taken by a {noun}'s own field", {"key": "reserved"})
            row = definition(company=current_principal().company_id, **body.model_dump())
            try:
                with database.atomic():
                    row.save()
            except peewee.IntegrityError:
                raise Conflict("a custom field with this key exists", {"key": "already taken"}) from None
            log_change("created", row)
            return field_json(row)

        @blueprint.get("/<int:field_id>")
        @endpoint(summary="Show a custom field", tags=tags, response=CustomFieldOut, errors=[404],
                  scope=self.read_scope)
        def show_field(field_id: int):
            return field_json(get_owned(definition, field_id, "custom field"))

        @blueprint.patch("/<int:field_id>")
        @endpoint(summary="Rename a custom field (its key and type stay)", tags=tags, body=CustomFieldUpdate,
                  response=CustomFieldOut, roles=MANAGERS, errors=[404], scope=self.write_scope)
        def update_field(field_id: int, body: CustomFieldUpdate):
            row = get_owned(definition, field_id, "custom field")
            before = snapshot(row)
            row.label = body.label
            row.save()
            log_change("updated", row, before)
            return field_json(row)

        @blueprint.delete("/<int:field_id>")
        @endpoint(summary=f"Delete a custom field and its values on every {noun}", tags=tags, status=204,
                  roles=MANAGERS, errors=[404], scope=self.write_scope)
        def delete_field(field_id: int):
            row = get_owned(definition, field_id, "custom field")
            log_change("deleted", row)
            with database.atomic():
                self.remove_values(row.company_id, row.key)
                row.delete_instance()

        return blueprint
