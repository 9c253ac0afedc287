"""Housekeeping actors fired by the scheduler."""

from __future__ import annotations

import datetime as dt

import dramatiq

from db.base import utcnow
from db.jobs import IDEMPOTENCY_WINDOW, IdempotencyKey, Job
from wharf.settings import settings


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def prune_finished_jobs() -> dict[str, int]:
    """Delete finished jobs past JOB_RETENTION_DAYS and idempotency keys past their window."""
    jobs = (
        Job.delete()
        .where(Job.status.in_(("done", "failed")), Job.finished_at < utcnow() - dt.timedelta(days=settings.job_retention_days))
        .execute()
    )
    keys = IdempotencyKey.delete().where(IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_WINDOW).execute()
    return {"jobs": jobs, "idempotencyKeys": keys}
