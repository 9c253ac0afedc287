"""Contact import: a CSV kept under the var directory, read as a stream, each row validated, upserted in batches.

A bad row is recorded (`ImportRowError`, downloadable as CSV) and never stops the good ones. Contacts are
upserted on (company, phone): importing the same file again updates them and creates nothing, and an empty
cell never erases what a contact has. Each batch commits with a checkpoint in its Job row (counts and
records read), so a redelivered message resumes after the last committed batch, and one that finds its job
finished returns the recorded result. A file that cannot be read at all fails the job with the reason.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import peewee
from dramatiq.middleware import CurrentMessage
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from db.base import database, is_postgres, utcnow
from db.bulk import insert_rows
from db.companies import Company
from db.contacts import Contact, ContactField, Tag
from db.imports import ImportRowError
from db.jobs import Job
from wharf.csv_reading import CsvFile, NotCsv, column_mapping, data_rows, inspect_csv
from wharf.custom_fields import InvalidValue, parse_text
from wharf.phones import InvalidPhone, to_e164
from wharf.settings import settings
from workers.jobs import report_progress

logger = logging.getLogger(__name__)

BATCH_ROWS = 1000
SAMPLE_ERRORS = 20
MAX_TAGS_PER_ROW = 20
UPLOADS_DIR = "imports"
STANDARD_FIELDS = ("name", "phone", "email", "tags")
# What an import changes on a contact it finds: the mapped columns only, and an empty cell keeps the stored value.
UPDATE_WHEN_GIVEN = {
    "name": """"name" = CASE WHEN excluded."name" <> '' THEN excluded."name" ELSE "contact"."name" END""",
    "email": '"email" = COALESCE(excluded."email", "contact"."email")',
}
CONTACT_COLUMNS = ("company_id", "phone", "name", "email", "custom_fields", "blocked", "is_group", "created_at",
                   "updated_at")


class ImportRejected(Exception):
    """The file as a whole cannot be imported: the job fails with this reason and is not retried."""


class RowInvalid(ValueError):
    """A row that cannot be imported; the message names the fields and what is wrong with them."""


def upload_path(key: str) -> Path:
    """The stored upload named `key` ("imports/<company>/<name>.csv"), never outside the uploads folder."""
    root = (settings.var_dir / UPLOADS_DIR).resolve()
    path = (settings.var_dir / key).resolve()
    if root not in path.parents:
        raise ImportRejected("the upload's name is not one of ours")
    return path


@dataclass(frozen=True)
class ImportPlan:
    """What the file's columns hold: {field: column index}, the custom fields' types, the company's country."""

    columns: dict[str, int]
    custom_types: dict[str, str]
    country: str

    def titles(self, header: list[str]) -> dict[str, str]:
        return {name: header[index] for name, index in self.columns.items()}


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


PLAIN_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                         r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def normal_email(text: str) -> str:
    """The address in lower case; EmailNotValidError says what is wrong with it.

    A plain ASCII address (most of them) is checked with a regular expression that accepts only what
    email_validator accepts, twenty times faster; anything else goes through email_validator itself.
    """
    local, _, domain = text.rpartition("@")
    plain = (len(text) <= 254 and len(local) <= 64 and PLAIN_EMAIL.match(text)
             and domain.rsplit(".", 1)[-1].lower() not in SPECIAL_USE_DOMAIN_NAMES)
    return (text if plain else validate_email(text, check_deliverability=False).normalized).lower()


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


def read_contact(line: int, cells: list[str], plan: ImportPlan) -> ContactRow:
    """One record as a contact row; RowInvalid naming every field that is wrong."""
    def cell(name: str) -> str:
        index = plan.columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    problems: dict[str, str] = {}
    phone = ""
    if not cell("phone"):
        problems["phone"] = "missing"
    else:
        try:
            phone = to_e164(cell("phone"), plan.country)
        except InvalidPhone as error:
            problems["phone"] = str(error)
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
    for key, kind in plan.custom_types.items():
        try:
            value = parse_text(kind, cell(key))
        except InvalidValue as error:
            problems[key] = str(error)
            continue
        if value is not None:
            custom[key] = value
    if problems:
        raise RowInvalid("; ".join(f"{name}: {problem}" for name, problem in problems.items()))
    return ContactRow(line, phone, name, email, tags, custom)


@dataclass
class ContactImporter:
    """Writes one import's batches; `state` is the checkpoint kept in the job's result."""

    company_id: int
    job_id: str
    list_id: int | None
    plan: ImportPlan
    state: dict[str, Any]
    tag_ids: dict[str, int] = field(default_factory=dict)

    def write_batch(self, records: list[tuple[int, int, list[str]]], progress: float) -> None:
        rows: list[ContactRow] = []
        errors: list[dict[str, Any]] = []
        for _number, line, cells in records:
            if not any(cell.strip() for cell in cells):
                continue
            try:
                rows.append(read_contact(line, cells, self.plan))
            except RowInvalid as error:
                errors.append({"job": self.job_id, "line": line, "message": str(error), "cells": cells})
        with database.atomic():
            if rows:
                self.upsert(rows)
            if errors:
                ImportRowError.insert_many(errors).execute()
            self.state["skipped"] += len(errors)
            self.state["rowsRead"] = records[-1][0]
            Job.update(result=self.state).where(Job.id == self.job_id).execute()
            report_progress(progress)

    def upsert(self, rows: list[ContactRow]) -> None:
        merged: dict[str, ContactRow] = {}
        for row in rows:
            if row.phone in merged:
                merged[row.phone].merge(row)
            else:
                merged[row.phone] = row
        existing = {phone for (phone,) in Contact.select(Contact.phone).where(
            Contact.company == self.company_id, Contact.phone.in_(list(merged))).tuples()}
        created = len(merged.keys() - existing)
        self.state["created"] += created
        self.state["updated"] += len(rows) - created
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


def current_job_id() -> str:
    message = CurrentMessage.get_current_message()
    if message is None:
        raise ImportRejected("an import runs as a job (enqueue_job)")
    return message.message_id


def final_result(job_id: str, state: dict[str, Any]) -> dict[str, Any]:
    errors = (ImportRowError.select(ImportRowError.line, ImportRowError.message)
              .where(ImportRowError.job == job_id).order_by(ImportRowError.line).limit(SAMPLE_ERRORS))
    return {**state, "finished": True, "errors": [{"line": row.line, "message": row.message} for row in errors],
            "errorsUrl": f"/api/jobs/{job_id}/errors.csv" if state["skipped"] else None}


def open_upload(company_id: int, path: Path, mapping: dict[str, str]) -> tuple[CsvFile, ImportPlan]:
    if not path.exists():
        raise ImportRejected("the uploaded file is gone (imported already, or removed)")
    try:
        csv_file = inspect_csv(path)
        return csv_file, plan_import(company_id, csv_file.header, mapping)
    except ValueError as error:  # NotCsv, UnknownColumn, a mapping that names no field
        raise ImportRejected(str(error)) from None


def run_import(company_id: int, job_id: str, path: Path, mapping: dict[str, str], list_id: int | None,
               state: dict[str, Any]) -> dict[str, Any]:
    """Read the file from where the checkpoint `state` left off (all of it for an empty state), batch by batch."""
    csv_file, plan = open_upload(company_id, path, mapping)
    if not state:
        state = {"created": 0, "updated": 0, "skipped": 0, "rowsRead": 0, "columns": plan.titles(csv_file.header),
                 "header": csv_file.header, "encoding": csv_file.encoding, "delimiter": csv_file.delimiter,
                 "listId": list_id}
    importer = ContactImporter(company_id, job_id, list_id, plan, state)
    batch: list[tuple[int, int, list[str]]] = []
    unreadable = None
    try:
        for record in data_rows(csv_file, skip=state["rowsRead"]):
            batch.append(record)
            if len(batch) == BATCH_ROWS:
                importer.write_batch(batch, min(0.99, record[1] / csv_file.line_count))
                batch = []
    except NotCsv as error:  # the rows before the unreadable one are imported all the same
        unreadable = error
    if batch:
        importer.write_batch(batch, min(0.99, batch[-1][1] / csv_file.line_count))
    if unreadable is not None:
        raise ImportRejected(f"{unreadable}; the rows above it were imported")
    result = final_result(job_id, state)
    Job.update(result=result).where(Job.id == job_id).execute()
    return result


@dramatiq.actor(queue_name="imports", max_retries=5, time_limit=60 * 60 * 1000, throws=(ImportRejected,))
def import_contacts(company_id: int, upload: str, mapping: dict[str, str], list_id: int | None = None
                    ) -> dict[str, Any]:
    """Import the stored CSV `upload` into the company's contacts (and the list `list_id`); the result
    counts created, updated and skipped rows and shows the first errors (all of them: `errorsUrl`).
    The upload is removed once the import is finished or rejected; it stays for a retry."""
    job_id = current_job_id()
    job = Job.get_or_none(Job.id == job_id)
    if job is None:
        raise ImportRejected("the job is gone (its company was deleted?)")
    if (job.result or {}).get("finished"):
        return job.result
    path = upload_path(upload)
    try:
        result = run_import(company_id, job_id, path, mapping, list_id, job.result or {})
    except ImportRejected:
        path.unlink(missing_ok=True)
        raise
    path.unlink(missing_ok=True)
    logger.info("contact import %s: %s created, %s updated, %s skipped", job_id, result["created"],
                result["updated"], result["skipped"])
    return result
