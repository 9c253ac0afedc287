"""Importing contacts from a CSV: the upload is checked and stored, a job does the rest (workers/contact_import.py).

`POST /api/contacts/import` takes the file as the multipart field `file` or as a raw `text/csv` body. Options
go in the query string (or as fields of the multipart form): `mapping`, a JSON object {field: column title}
for what the header auto-detection would miss (fields: name, phone, email, tags, or a custom field's key),
and `listId`, a contact list to put the imported contacts in. The answer is 202 {jobId}.
`GET /api/jobs/:id` shows the progress and then the result: {created, updated, skipped, errors (the first
20), errorsUrl}; `GET /api/jobs/:id/errors.csv` has every rejected row with its line, the reason and its
cells as read, to fix and import again. A file that is empty, not text, or lacks a phone column is a 400
at once; one over MAX_BODY_BYTES a 413.

Import and the errors download are for admins and supervisors (and API keys with `contacts:write`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, request
from pydantic import Field, Json, ValidationError

from api.csv_export import csv_download
from api.endpoint import endpoint, validation_details
from api.errors import ApiError, NotFound, ValidationFailed
from api.schemas import JobAccepted, QuerySchema
from api.scoping import get_owned
from api.security import current_principal
from db.contact_lists import ContactList
from db.imports import ImportRowError
from db.jobs import Job
from wharf.csv_reading import NotCsv, inspect_csv
from wharf.settings import settings
from workers.contact_import import UPLOADS_DIR, import_contacts, plan_import
from workers.jobs import enqueue_job

blueprint = Blueprint("contact_import", __name__)
IMPORT_ROLES = ("super", "admin", "supervisor")
RAW_CSV_TYPES = ("text/csv", "application/csv", "text/plain")
ERRORS_BATCH = 1000


class ImportOptions(QuerySchema):
    mapping: Json[dict[str, str]] | None = Field(
        None, description='JSON {field: column title}, e.g. {"phone": "Telefone", "name": "Nome"}; other columns '
        "are recognised by their titles (nome/name, telefone/phone/celular/whatsapp, email/e-mail, tags/etiquetas, "
        "a custom field's key or label)")
    list_id: int | None = Field(None, description="a contact list to add the imported contacts to")


def import_options(query: ImportOptions) -> ImportOptions:
    """The query's options, with the fields of a multipart form over them."""
    if request.mimetype != "multipart/form-data" or not request.form:
        return query
    try:
        return ImportOptions.model_validate({**request.args.to_dict(), **request.form.to_dict()})
    except ValidationError as error:
        raise ValidationFailed("the form has invalid fields", validation_details(error)) from None


def store_upload(company_id: int) -> str:
    """Write the uploaded CSV under the var directory; its key (path relative to the var directory)."""
    key = f"{UPLOADS_DIR}/{company_id}/{uuid.uuid4().hex}.csv"
    path = settings.var_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("send the CSV as the multipart field `file`", {"file": "missing"})
        upload.save(path)
    elif request.mimetype in RAW_CSV_TYPES:
        path.write_bytes(request.get_data())
    else:
        raise ApiError(415, "send the CSV as multipart/form-data (field `file`) or as a text/csv body",
                       "unsupported_media_type")
    return key


def check_upload(company_id: int, key: str, mapping: dict[str, str]) -> None:
    """400 (and the upload removed) for a file that is no CSV, or whose columns give no phone."""
    path = settings.var_dir / key
    try:
        csv_file = inspect_csv(path)
        plan_import(company_id, csv_file.header, mapping)
    except NotCsv as error:
        path.unlink(missing_ok=True)
        raise ValidationFailed("the file cannot be imported", {"file": str(error)}) from None
    except ValueError as error:
        path.unlink(missing_ok=True)
        raise ValidationFailed("the file's columns do not fit the mapping", {"mapping": str(error)}) from None


@blueprint.post("/api/contacts/import")
@endpoint(summary="Import contacts from a CSV (multipart field `file`, or a text/csv body): 202 with the job; "
          "contacts are upserted by phone", tags=["contacts"], query=ImportOptions, response=JobAccepted,
          status=202, roles=IMPORT_ROLES, errors=[404, 413, 415], enqueues=True, scope="contacts:write",
          upload_media_types=("multipart/form-data", "text/csv"))
def import_csv(query: ImportOptions):
    options = import_options(query)
    principal = current_principal()
    if options.list_id is not None:
        get_owned(ContactList, options.list_id, "contact list")
    key = store_upload(principal.company_id)
    check_upload(principal.company_id, key, options.mapping or {})
    job = enqueue_job(import_contacts, principal.company_id, key, options.mapping or {}, options.list_id,
                      company_id=principal.company_id, user_id=principal.user.id if principal.user else None)
    return JobAccepted(job_id=job.id)


@blueprint.get("/api/jobs/<job_id>/errors.csv")
@endpoint(summary="Every row an import rejected: line, error and its cells as read (fix them and import again)",
          tags=["jobs"], roles=IMPORT_ROLES, errors=[404], scope="contacts:write")
def import_errors(job_id: str):
    job = get_owned(Job, job_id, "job")
    header = (job.result or {}).get("header")
    if header is None:
        raise NotFound("import job")

    def rows() -> Iterator[list[Any]]:
        last_id = 0
        errors = ImportRowError.select().where(ImportRowError.job == job_id)
        while batch := list(errors.where(ImportRowError.id > last_id).order_by(ImportRowError.id).limit(ERRORS_BATCH)):
            for error in batch:
                yield [error.line, error.message, *error.cells]
            last_id = batch[-1].id

    return csv_download(f"import-{job_id}-errors.csv", ["line", "error", *header], rows())
