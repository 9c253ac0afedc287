"""What became of enqueued work: GET /api/jobs/:id.

An agent sees the jobs they started (their sends, flows, imports); others of the company may carry other
tickets' conversations. Admins, supervisors and programs see all of the company's.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint

from api.endpoint import endpoint
from api.errors import NotFound
from api.pagination import paginate
from api.schemas import OutSchema, PageQuery, UtcDateTime, page_of
from api.scoping import owned_or_own
from db.api_keys import ENQUEUEING_SCOPES
from db.jobs import JOB_STATUSES, Job

blueprint = Blueprint("jobs", __name__, url_prefix="/api/jobs")


class JobOut(OutSchema):
    id: str
    kind: str
    status: str
    progress: float
    result: Any = None
    error: str | None
    attempts: int
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None


class JobQuery(PageQuery):
    status: Literal[JOB_STATUSES] | None = None  # type: ignore[valid-type]
    kind: str | None = None


@blueprint.get("")
@endpoint(summary="List the jobs, newest first (an agent sees their own)", tags=["jobs"], query=JobQuery, response=page_of(JobOut),
          scope=ENQUEUEING_SCOPES)
def list_jobs(query: JobQuery):
    jobs = owned_or_own(Job).order_by(Job.created_at.desc())
    if query.status:
        jobs = jobs.where(Job.status == query.status)
    if query.kind:
        jobs = jobs.where(Job.kind == query.kind)
    return paginate(jobs, query, lambda job: JobOut.model_validate(job).to_json())


@blueprint.get("/<job_id>")
@endpoint(summary="Status, progress, result and error of one job", tags=["jobs"], response=JobOut, errors=[404],
          scope=ENQUEUEING_SCOPES)
def show_job(job_id: str):
    job = owned_or_own(Job).where(Job.id == job_id).first()
    if job is None:
        raise NotFound("job")
    return JobOut.model_validate(job)
