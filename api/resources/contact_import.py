"""Importing contacts from a CSV: the upload is checked and stored (api/csv_upload.py), a job does the rest
(workers/contact_import.py); and the errors download of every import job (contacts and leads).

`POST /api/contacts/import` takes the file as the multipart field `file` or as a raw `text/csv` body. Options
go in the query string (or as fields of the multipart form): `mapping`, a JSON object {field: column title}
for what the header auto-detection would miss (fields: name, phone, email, tags, or a custom field's key),
and `listId`, a contact list to put the imported contacts in. The answer is 202 {jobId}.
`GET /api/jobs/:id` shows the progress and then the result: {created, updated, skipped, errors (the first
20), errorsStored, errorsUrl}; `GET /api/jobs/:id/errors.csv` has the rejected rows (the first 10,000) with
their line, the reason and their cells as read, to fix and import again. A file that is empty, not text, or
lacks a phone column is a 400 at once; one over MAX_BODY_BYTES a 413.

Import and the errors download are for admins and supervisors (and API keys with `contacts:write`; a lead
import's errors: `leads:write`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint
from pydantic import Field, Json

from api.csv_export import csv_download
from api.csv_upload import UPLOAD_MEDIA_TYPES, accept_upload, upload_options
from api.endpoint import endpoint
from api.errors import Forbidden, NotFound
from api.schemas import JobAccepted, QuerySchema
from api.scoping import get_owned
from api.security import current_principal
from db.base import in_id_batches
from db.contact_lists import ContactList
from db.imports import ImportRowError
from db.jobs import Job
from workers.contact_import import import_contacts, plan_import
from workers.jobs import enqueue_job

blueprint = Blueprint("contact_import", __name__)
IMPORT_ROLES = ("super", "admin", "supervisor")
SCOPE_OF_KIND = {"import_contacts": "contacts:write", "import_leads": "leads:write"}


class ImportOptions(QuerySchema):
    mapping: Json[dict[str, str]] | None = Field(
        None, description='JSON {field: column title}, e.g. {"phone": "Telefone", "name": "Nome"}; other columns '
        "are recognised by their titles (nome/name, telefone/phone/celular/whatsapp, email/e-mail, tags/etiquetas, "
        "a custom field's key or label)")
    list_id: int | None = Field(None, description="a contact list to add the imported contacts to")


@blueprint.post("/api/contacts/import")
@endpoint(summary="Import contacts from a CSV (multipart field `file`, or a text/csv body): 202 with the job; "
          "contacts are upserted by phone", tags=["contacts"], query=ImportOptions, response=JobAccepted,
          status=202, roles=IMPORT_ROLES, errors=[404, 413, 415], enqueues=True, scope="contacts:write",
          upload_media_types=UPLOAD_MEDIA_TYPES)
def import_csv(query: ImportOptions):
    options = upload_options(query)
    principal = current_principal()
    if options.list_id is not None:
        get_owned(ContactList, options.list_id, "contact list")
    mapping = options.mapping or {}
    key = accept_upload(principal.company_id, lambda header: plan_import(principal.company_id, header, mapping))
    job = enqueue_job(import_contacts, principal.company_id, key, mapping, options.list_id,
                      company_id=principal.company_id, user_id=principal.user.id if principal.user else None)
    return JobAccepted(job_id=job.id)


@blueprint.get("/api/jobs/<job_id>/errors.csv")
@endpoint(summary="The rows an import rejected (the first 10,000): line, error and its cells as read (fix them "
          "and import again)", tags=["jobs"], roles=IMPORT_ROLES, errors=[404],
          scope=tuple(SCOPE_OF_KIND.values()))
def import_errors(job_id: str):
    job = get_owned(Job, job_id, "job")
    header = (job.result or {}).get("header")
    if job.kind not in SCOPE_OF_KIND or header is None:
        raise NotFound("import job")
    scopes = current_principal().scopes
    if scopes is not None and SCOPE_OF_KIND[job.kind] not in scopes:
        raise Forbidden(f"the API key needs the scope {SCOPE_OF_KIND[job.kind]}", "insufficient_scope",
                        {"required": [SCOPE_OF_KIND[job.kind]]})

    def rows() -> Iterator[list[Any]]:
        for batch in in_id_batches(ImportRowError.select().where(ImportRowError.job == job_id)):
            for error in batch:
                yield [error.line, error.message, *error.cells]

    return csv_download(f"import-{job_id}-errors.csv", ["line", "error", *header], rows())
