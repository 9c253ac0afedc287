"""Enqueueing work the API reports on: a Job row first, then the Dramatiq message.

The row carries the whole message, so a send lost between the insert and Redis (a crash, a
broker outage) is found by the scheduler's `requeue_lost_jobs` and sent again; actors are
idempotent, so a message that did arrive and is sent again does no harm.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from db.base import database
from db.jobs import Job
from workers.middleware import TRACKED_OPTION


def enqueue_job(
    actor: dramatiq.Actor,
    *args: Any,
    company_id: int | None,
    user_id: int | None = None,
    kind: str | None = None,
    **kwargs: Any,
) -> Job:
    """Record a Job and send its message; call outside a transaction, so workers see the rows."""
    if database.in_transaction():
        raise RuntimeError("enqueue_job inside a transaction: the worker could run before the commit")
    message = actor.message_with_options(args=args, kwargs=kwargs, **{TRACKED_OPTION: True})
    job = Job.create(
        id=message.message_id,
        company=company_id,
        user=user_id,
        kind=kind or actor.actor_name,
        queue_name=message.queue_name,
        message=message.asdict(),
    )
    actor.broker.enqueue(message)
    return job


def resend_job(broker: dramatiq.Broker, job: Job) -> None:
    """Send a Job's recorded message again, with the same id."""
    broker.enqueue(dramatiq.Message(**job.message))


def report_progress(fraction: float) -> None:
    """From inside an actor: record how far the current tracked job has come (0..1)."""
    message = CurrentMessage.get_current_message()
    if message is not None and message.options.get(TRACKED_OPTION):
        Job.update(progress=max(0.0, min(1.0, fraction))).where(Job.id == message.message_id).execute()
