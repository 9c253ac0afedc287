"""The scheduler's periodic jobs: one list with stable ids. Each claims work and enqueues it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from db.base import utcnow
from db.jobs import Job
from workers.broker import broker
from workers.campaigns import restart_stalled_campaigns, start_due_campaigns
from workers.jobs import enqueued_marker, resend_job
from workers.maintenance import prune_finished_jobs
from workers.schedules import send_due_schedules
from workers.webhooks import prune_webhook_deliveries

logger = logging.getLogger(__name__)

LOST_AFTER = dt.timedelta(minutes=2)


def requeue_lost_jobs() -> int:
    """Send again the queued jobs whose message never reached Redis, or that Redis lost since.

    Once a message is in Redis, Dramatiq owns it (it even takes it back from dead workers);
    only a job with no enqueued marker is lost.
    """
    resent = 0
    stale = Job.select().where(Job.status == "queued", Job.created_at < utcnow() - LOST_AFTER).limit(500)
    for job in stale:
        if not broker.client.exists(enqueued_marker(job.id)):
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
    PeriodicJob("prune_webhook_deliveries", prune_webhook_deliveries.send, seconds=3600),
    PeriodicJob("send_due_schedules", send_due_schedules, seconds=1),
    PeriodicJob("start_due_campaigns", start_due_campaigns, seconds=2),
    PeriodicJob("restart_stalled_campaigns", restart_stalled_campaigns, seconds=30),
]
