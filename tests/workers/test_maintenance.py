"""Housekeeping: finished jobs, idempotency keys and uploads past their time are deleted, the rest kept."""

from __future__ import annotations

import datetime as dt
import os
import uuid

from db.base import utcnow
from db.jobs import Job
from wharf.settings import settings
from workers.csv_import import UPLOADS_DIR
from workers.maintenance import prune_finished_jobs


def job(company, status: str, finished_days_ago: int | None) -> Job:
    finished = None if finished_days_ago is None else utcnow() - dt.timedelta(days=finished_days_ago)
    return Job.create(id=str(uuid.uuid4()), company=company, kind="import_contacts", status=status,
                      finished_at=finished, message={})


def upload(company, days_old: int):
    path = settings.var_dir / UPLOADS_DIR / str(company.id) / f"{uuid.uuid4().hex}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("name;phone\n")
    stamp = (utcnow() - dt.timedelta(days=days_old)).replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_pruning_deletes_what_is_past_the_retention_and_keeps_the_rest(database, factories):
    company = factories.company()
    days = settings.job_retention_days
    old_done, old_failed = job(company, "done", days + 1), job(company, "failed", days + 1)
    recent_done, old_queued = job(company, "done", days - 1), job(company, "queued", None)
    old_upload, recent_upload = upload(company, days + 1), upload(company, days - 1)

    pruned = prune_finished_jobs.fn()

    assert pruned["jobs"] == 2 and pruned["uploads"] == 1
    kept = {row.id for row in Job.select(Job.id)}
    assert {recent_done.id, old_queued.id} <= kept and not {old_done.id, old_failed.id} & kept
    assert recent_upload.exists() and not old_upload.exists()
