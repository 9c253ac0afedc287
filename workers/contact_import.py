"""Contact import: the rows of a CSV (workers/csv_import.py) upserted into the company's contacts in batches.

Contacts are upserted on (company, phone): importing the same file again updates them and creates nothing,
and an empty cell never erases what a contact has. Tags named in a row are created when the company has
none of that name (ignoring case); `list_id` puts every imported contact in that contact list.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import peewee
from email_validator import EmailNotValidError

from db.base import is_postgres, utcnow
from db.bulk import insert_rows
from db.companies import Company
from db.contacts import Contact, ContactField, Tag
from wharf.csv_reading import CsvFile, column_mapping
from wharf.custom_fields import InvalidValue, parse_text
from workers.csv_import import (
    ImportRejected,
    RowInvalid,
    cell_reader,
    import_upload,
    merged_by_phone,
    normal_email,
    read_phone,
)

MAX_TAGS_PER_ROW = 20
STANDARD_FIELDS = ("name", "phone", "email", "tags")
# What an import changes on a contact it finds: the mapped columns only, and an empty cell keeps the stored value.
UPDATE_WHEN_GIVEN = {
    "name": """"name" = CASE WHEN excluded."name" <> '' THEN excluded."name" ELSE "contact"."name" END""",
    "email": '"email" = COALESCE(excluded."email", "contact"."email")',
}
CONTACT_COLUMNS = ("company_id", "phone", "name", "email", "custom_fields", "blocked", "is_group", "created_at",
                   "updated_at")


@dataclass(frozen=True)
class ImportPlan:
    """What the file's columns hold: {field: column index}, the custom fields' types, the company's country."""

    columns: dict[str, int]
    custom_types: dict[str, str]
    country: str


def plan_import(company_id: int, header: list[str], mapping: dict[str, str]) -> ImportPlan:
    """The columns to read; ValueError (UnknownColumn) for a mapping that names no column of the file or no
    field of a contact, or a file without a phone column."""
    defined = list(ContactField.select().where(ContactField.company == company_id))
    fields = {row.key: row.type for row in defined}
    unknown = sorted(set(mapping) - set(STANDARD_FIELDS) - set(fields))
    if unknown:
        raise ValueError(f"not fields of a contact: {', '.join(unknown)} (name, phone, email, tags or a custom "
                         "field's key)")
    columns = column_mapping(header, mapping, {row.key: (row.key, row.label) for row in defined})
    if "phone" not in columns:
        raise ValueError(f"no phone column: name it in the mapping (the file's columns: {', '.join(header)})")
    country = Company.select(Company.default_country).where(Company.id == company_id).scalar()
    return ImportPlan(columns, {key: kind for key, kind in fields.items() if key in columns}, country)


@dataclass
class ContactRow:
    line: int
    phone: str
    name: str
    email: str | None
    tags: dict[str, str]  # lower-case name → name as written
    custom: dict[str, Any]

    def merge(self, later: ContactRow) -> None:
        """The same phone again further down the file: its non-empty cells win."""
        self.name = later.name or self.name
        self.email = later.email or self.email
        self.tags = later.tags | self.tags
        self.custom |= later.custom


@dataclass
class ContactWriter:
    """The RowWriter of a contact import (workers.csv_import): rows read per the plan, upserted by phone."""

    company_id: int
    list_id: int | None
    plan: ImportPlan
    tag_ids: dict[str, int] = field(default_factory=dict)

    def read(self, line: int, cells: list[str]) -> ContactRow:
        """One record as a contact row; RowInvalid naming every field that is wrong."""
        cell = cell_reader(self.plan.columns, cells)
        problems: dict[str, str] = {}
        phone = read_phone(cell("phone"), self.plan.country, problems)
        name = cell("name")
        if len(name) > 200:
            problems["name"] = "longer than 200 characters"
        email = None
        if cell("email"):
            try:
                email = normal_email(cell("email"))
            except EmailNotValidError as error:
                problems["email"] = str(error)
        tags = {tag.lower(): tag for tag in (part.strip() for part in re.split(r"[,;|]", cell("tags"))) if tag}
        if len(tags) > MAX_TAGS_PER_ROW or any(len(tag) > 100 for tag in tags.values()):
            problems["tags"] = f"at most {MAX_TAGS_PER_ROW} tags of up to 100 characters"
        custom: dict[str, Any] = {}
        for key, kind in self.plan.custom_types.items():
            try:
                value = parse_text(kind, cell(key))
            except InvalidValue as error:
                problems[key] = str(error)
                continue
            if value is not None:
                custom[key] = value
        if problems:
            raise RowInvalid.of(problems)
        return ContactRow(line, phone, name, email, tags, custom)

    def write(self, rows: list[ContactRow]) -> tuple[int, int]:
        merged = merged_by_phone(rows)
        existing = {phone for (phone,) in Contact.select(Contact.phone).where(
            Contact.company == self.company_id, Contact.phone.in_(list(merged))).tuples()}
        created = len(merged.keys() - existing)
        ids = self.upsert_contacts(sorted(merged.values(), key=lambda row: row.phone))
        names: dict[str, str] = {}
        for row in rows:  # a new tag is spelt as it first appears
            for key, name in row.tags.items():
                names.setdefault(key, name)
        tag_ids = self.ids_of_tags(names)
        links = sorted({(ids[row.phone], tag_ids[key]) for row in merged.values() for key in row.tags})
        insert_rows("contact_tag", ("contact_id", "tag_id"), links, "ON CONFLICT DO NOTHING")
        if self.list_id is not None:
            items = [(self.list_id, contact_id, utcnow()) for contact_id in sorted(ids.values())]
            insert_rows("contact_list_item", ("contact_list_id", "contact_id", "created_at"), items,
                        "ON CONFLICT DO NOTHING")
        return created, len(rows) - created

    def upsert_contacts(self, rows: list[ContactRow]) -> dict[str, int]:
        """Insert or update on (company, phone), in phone order (two imports lock rows alike); {phone: id}.

        Only the mapped columns are updated, and only from non-empty cells; custom fields are merged.
        """
        now = utcnow()
        values = [(self.company_id, row.phone, row.name, row.email, json.dumps(row.custom), False, False, now, now)
                  for row in rows]
        updates = ['"updated_at" = excluded."updated_at"']
        updates += [clause for name, clause in UPDATE_WHEN_GIVEN.items() if name in self.plan.columns]
        if self.plan.custom_types:
            updates.append(f'"custom_fields" = {merged_custom_fields()}')
        tail = f'ON CONFLICT ("company_id", "phone") DO UPDATE SET {", ".join(updates)} RETURNING "id", "phone"'
        found = insert_rows("contact", CONTACT_COLUMNS, values, tail, returning=True)
        return {phone: contact_id for contact_id, phone in found}

    def ids_of_tags(self, names: dict[str, str]) -> dict[str, int]:
        """{lower-case name: id} of these tags, creating the company's missing ones (matched ignoring case)."""
        missing = {key: name for key, name in names.items() if key not in self.tag_ids}
        if missing:
            lower = peewee.fn.LOWER(Tag.name)
            known = Tag.select(Tag.id, lower.alias("key")).where(Tag.company == self.company_id,
                                                                 lower.in_(list(missing)))
            self.tag_ids |= {row.key: row.id for row in known}
            new = [{"company": self.company_id, "name": name, "created_at": utcnow(), "updated_at": utcnow()}
                   for key, name in missing.items() if key not in self.tag_ids]
            if new:
                Tag.insert_many(new).on_conflict_ignore().execute()
                created = Tag.select(Tag.id, Tag.name).where(Tag.company == self.company_id,
                                                             Tag.name.in_([row["name"] for row in new]))
                self.tag_ids |= {row.name.lower(): row.id for row in created}
        return {key: self.tag_ids[key] for key in names}


def merged_custom_fields() -> str:
    """SQL for the stored custom fields with the incoming ones set over them (JSON kept as text)."""
    if is_postgres():
        return '("contact"."custom_fields"::jsonb || excluded."custom_fields"::jsonb)::text'
    return 'json_patch("contact"."custom_fields", excluded."custom_fields")'


@dramatiq.actor(queue_name="imports", max_retries=5, time_limit=60 * 60 * 1000, throws=(ImportRejected,))
def import_contacts(company_id: int, upload: str, mapping: dict[str, str], list_id: int | None = None
                    ) -> dict[str, Any]:
    """Import the stored CSV `upload` into the company's contacts (and the list `list_id`); the result
    counts created, updated and skipped rows and shows the first errors (all of them: `errorsUrl`)."""
    def writer_for(csv_file: CsvFile) -> ContactWriter:
        return ContactWriter(company_id, list_id, plan_import(company_id, csv_file.header, mapping))

    return import_upload(upload, writer_for, {"listId": list_id})
