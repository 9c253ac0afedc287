"""The scheduler's periodic jobs: one list with stable ids. Each claims work and enqueues it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from db.base import utcnow
from db.jobs import Job
from workers.broker import broker
from workers.jobs import resend_job
from workers.maintenance import prune_finished_jobs

logger = logging.getLogger(__name__)

LOST_AFTER = dt.timedelta(minutes=2)


def message_in_broker(job: Job) -> bool:
    """Whether Redis still holds the job's message, ready, delayed or being processed."""
    client = broker.client
    for queue in (job.queue_name, f"{job.queue_name}.DQ"):
        if client.hexists(f"{broker.namespace}:{queue}.msgs", job.id):
            return True
    return False


def requeue_lost_jobs() -> int:
    """Send again the queued jobs whose message never reached Redis (a crash between insert and send)."""
    resent = 0
    stale = Job.select().where(Job.status == "queued", Job.created_at < utcnow() - LOST_AFTER).limit(500)
    for job in stale:
        if not message_in_broker(job):
            resend_job(broker, job)
            resent += 1
    if resent:
        logger.warning("sent %d lost job messages again", resent)
    return resent


def enqueue_job_pruning() -> None:
    prune_finished_jobs.send()


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    run: Callable[[], object]
    seconds: int


PERIODIC_JOBS = [
    PeriodicJob("requeue_lost_jobs", requeue_lost_jobs, seconds=60),
    PeriodicJob("prune_finished_jobs", enqueue_job_pruning, seconds=3600),
]
