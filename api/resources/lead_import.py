"""Importing leads from a CSV: the upload is checked and stored (api/csv_upload.py), a job does the rest
(workers/lead_import.py).

`POST /api/leads/import` takes the file as the multipart field `file` or as a raw `text/csv` body, and an
optional `mapping` (query string or form field), a JSON object {field: column title} for what the header
auto-detection would miss. The answer is 202 {jobId}; `GET /api/jobs/:id` shows the progress and then the
result {created, updated, skipped, errors, errorsUrl}, and `GET /api/jobs/:id/errors.csv` the rejected rows.

Leads are matched by phone: a row without one is rejected. Importing creates and updates leads, so it is
for admins and supervisors whose lead permissions include both adding and editing (and API keys with
`leads:write`).
"""

from __future__ import annotations

from flask import Blueprint
from pydantic import Field, Json

from api.csv_upload import UPLOAD_MEDIA_TYPES, accept_upload, upload_options
from api.endpoint import endpoint
from api.resources.contact_import import IMPORT_ROLES
from api.resources.leads import require
from api.schemas import JobAccepted, QuerySchema
from api.security import current_principal
from workers.jobs import enqueue_job
from workers.lead_import import import_leads, plan_lead_import

blueprint = Blueprint("lead_import", __name__)


class LeadImportOptions(QuerySchema):
    mapping: Json[dict[str, str]] | None = Field(
        None, description='JSON {field: column title}, e.g. {"phone": "Telefone", "companyName": "Razão social"}; '
        "fields: name, phone, email, companyName, status, source, category, value, notes, nextFollowUpAt. Other "
        "columns are recognised by their titles in Portuguese or English (nome, telefone/celular/whatsapp, e-mail, "
        "empresa, status/etapa, origem, categoria/temperatura, valor, observações, retorno)")


@blueprint.post("/api/leads/import")
@endpoint(summary="Import leads from a CSV (multipart field `file`, or a text/csv body): 202 with the job; leads "
          "are upserted by phone", tags=["leads"], query=LeadImportOptions, response=JobAccepted, status=202,
          roles=IMPORT_ROLES, errors=[403, 413, 415], enqueues=True, scope="leads:write",
          upload_media_types=UPLOAD_MEDIA_TYPES)
def import_lead_csv(query: LeadImportOptions):
    require("add")
    require("edit")
    options = upload_options(query)
    principal = current_principal()
    mapping = options.mapping or {}
    key = accept_upload(principal.company_id, lambda header: plan_lead_import(principal.company_id, header, mapping))
    user_id = principal.user.id if principal.user else None
    job = enqueue_job(import_leads, principal.company_id, key, mapping, user_id, company_id=principal.company_id,
                      user_id=user_id)
    return JobAccepted(job_id=job.id)
