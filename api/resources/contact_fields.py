"""Custom fields of contacts, under `/api/contact-fields` (api/field_definitions.py): their values live in
`Contact.custom_fields`; programs read them with `contacts:read` and manage them with `contacts:write`."""

from __future__ import annotations

from api.field_definitions import FieldDefinitions
from db.contacts import Contact, ContactField

CONTACT_FIELDS = FieldDefinitions(ContactField, Contact, "contact",
                                  frozenset({"id", "name", "phone", "email", "tags", "blocked"}),
                                  "contacts:read", "contacts:write")
blueprint = CONTACT_FIELDS.blueprint("contact_fields", "/api/contact-fields")
