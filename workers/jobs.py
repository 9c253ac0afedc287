"""Enqueueing work the API reports on: a Job row first, then the Dramatiq message.

The row carries the whole message, and a marker in Redis says the message got there. A job
without its marker (a crash between the insert and the send, a broker outage, a Redis that
restarted empty) is found by the scheduler's `requeue_lost_jobs` and sent again; actors are
idempotent, so a message that did arrive and is sent again does no harm.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage

from db.base import database
from db.bulk import insert_models
from db.jobs import Job
from wharf.redis_client import redis_client
from workers.broker import enqueue_together
from workers.middleware import TRACKED_OPTION
from workers.observability import REQUEST_ID_OPTION

T = TypeVar("T")


def enqueue_job(
    actor: dramatiq.Actor,
    *args: Any,
    company_id: int | None,
    user_id: int | None = None,
    kind: str | None = None,
    queue_name: str | None = None,
    **kwargs: Any,
) -> Job:
    """Record a Job and send its message; call outside a transaction, so workers see the rows.

    `queue_name` routes the message to another queue than the actor's own (the gateway's
    per-connection queues).
    """
    if database.in_transaction():
        raise RuntimeError("enqueue_job inside a transaction: the worker could run before the commit")
    job, message = record_job(actor, *args, company_id=company_id, user_id=user_id, kind=kind,
                              queue_name=queue_name, **kwargs)
    send_tracked(actor.broker, message)
    return job


def record_job(actor: dramatiq.Actor, *args: Any, **options: Any) -> tuple[Job, dramatiq.Message]:
    """Only the Job row (`options` are `job_for`'s), for a caller that writes it in its own transaction and
    sends the message (`send_tracked`) once that transaction has committed."""
    job, message = job_for(actor, *args, **options)
    insert_models([job])  # bound by the driver, not built by Peewee: every enqueued job comes through here
    return job, message


def job_for(
    actor: dramatiq.Actor,
    *args: Any,
    company_id: int | None,
    user_id: int | None = None,
    kind: str | None = None,
    queue_name: str | None = None,
    request_id: str | None = None,
    **kwargs: Any,
) -> tuple[Job, dramatiq.Message]:
    """A Job not yet written and its message: `record_job`'s, for a caller that inserts many in one statement.
    `request_id`: the request the job's logs name, when it is not the caller's (a group commit's leader
    writes the others' sends)."""
    options = {TRACKED_OPTION: True} | ({REQUEST_ID_OPTION: request_id} if request_id else {})
    message = actor.message_with_options(args=args, kwargs=kwargs, **options)
    if queue_name is not None:
        message = message.copy(queue_name=queue_name)
    job = Job(
        id=message.message_id,
        company=company_id,
        user=user_id,
        kind=kind or actor.actor_name,
        queue_name=message.queue_name,
        message=message.asdict(),
    )
    return job, message


ENQUEUED_MARKER_SECONDS = 24 * 3600  # as long as the broker's age limit lets a message wait


def enqueued_marker(job_id: str) -> str:
    return f"wharf:job-enqueued:{job_id}"


def mark_enqueued(client: redis.Redis | redis.client.Pipeline, marker: str) -> None:
    """Record that the work under `marker` (a job's, a webhook delivery's) reached Redis; a sweep sends
    again the work whose marker is missing (`requeue_lost_jobs`, `resend_lost_deliveries`)."""
    client.set(marker, 1, ex=ENQUEUED_MARKER_SECONDS)


def without_marker(client: redis.Redis, items: list[T], marker: Callable[[T], str]) -> list[T]:
    """Those of `items` whose enqueued marker, `marker(item)`, is not in Redis; one round trip."""
    with client.pipeline(transaction=False) as pipeline:
        for item in items:
            pipeline.exists(marker(item))
        found = pipeline.execute()
    return [item for item, is_marked in zip(items, found, strict=True) if not is_marked]


def send_tracked(broker: RedisBroker, message: dramatiq.Message) -> None:
    """Enqueue, then mark the job's message as having reached Redis."""
    with sending_tracked(broker, [message]):
        pass


@contextlib.contextmanager
def sending_tracked(broker: RedisBroker, messages: Sequence[dramatiq.Message]) -> Iterator[redis.client.Pipeline]:
    """`send_tracked` for `messages`, whose markers go to Redis with the commands the block queues on the
    pipeline it yields (the events that announce the work): two round trips however many there are.

    The messages are enqueued first, on their own: the markers are set only once Dramatiq's enqueue has
    succeeded, and not at all if the block raises (`requeue_lost_jobs` sends such jobs again)."""
    enqueue_together(broker, messages)
    with broker.client.pipeline(transaction=False) as pipeline:
        yield pipeline
        for message in messages:
            mark_enqueued(pipeline, enqueued_marker(message.message_id))
        pipeline.execute()


def resend_job(broker: RedisBroker, job: Job) -> None:
    """Send a Job's recorded message again, with the same id."""
    send_tracked(broker, dramatiq.Message(**job.message))


ASKED_SECONDS = 7 * 24 * 3600  # longer than the broker keeps a message


def asked_before(what: str) -> float | None:
    """For an actor that asks WhatsApp for something it would do twice if asked twice (a new group, a Status): when
    the running message first asked (a worker died in the call, a session dropped before the answer); None the
    first time, which it marks now, before asking."""
    mark = f"wharf:asked:{what}:{CurrentMessage.get_current_message().message_id}"
    client = redis_client()
    if client.set(mark, time.time(), nx=True, ex=ASKED_SECONDS):
        return None
    return float(client.get(mark))


def report_progress(fraction: float) -> None:
    """From inside an actor: record how far the current tracked job has come (0..1)."""
    message = CurrentMessage.get_current_message()
    if message is not None and message.options.get(TRACKED_OPTION):
        Job.update(progress=max(0.0, min(1.0, fraction))).where(Job.id == message.message_id).execute()
