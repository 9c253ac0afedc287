"""A job whose message never reached Redis is sent again; one that reached it is left alone."""

from __future__ import annotations

import datetime as dt

import dramatiq
import pytest

from db.base import utcnow
from db.jobs import Job
from scheduler.jobs import requeue_lost_jobs
from workers.jobs import enqueued_marker, send_tracked, sending_tracked
from workers.middleware import TRACKED_OPTION

runs: list[str] = []


@dramatiq.actor(queue_name="test-lost", max_retries=0)
def remember(tag: str) -> None:
    runs.append(tag)


def record_without_sending(tag: str, company_id: int, age: dt.timedelta) -> Job:
    """What a crash between the Job insert and the send leaves behind."""
    message = remember.message_with_options(args=(tag,), **{TRACKED_OPTION: True})
    return Job.create(
        id=message.message_id, company=company_id, kind="remember", queue_name="test-lost",
        message=message.asdict(), created_at=utcnow() - age,
    )


def test_a_lost_job_is_sent_again_and_runs_once(factories, broker, worker):
    company = factories.company()
    lost = record_without_sending("lost", company.id, dt.timedelta(minutes=5))
    fresh = record_without_sending("fresh", company.id, dt.timedelta(seconds=5))

    resent = requeue_lost_jobs()
    broker.join("test-lost", timeout=10_000)
    worker.join()

    assert resent == 1
    assert runs.count("lost") == 1 and "fresh" not in runs
    assert Job.get_by_id(lost.id).status == "done"
    assert Job.get_by_id(fresh.id).status == "queued"


def test_a_job_still_waiting_in_redis_is_not_sent_twice(factories, broker):
    job = record_without_sending("waiting", factories.company().id, dt.timedelta(minutes=5))
    send_tracked(broker, dramatiq.Message(**job.message))

    assert requeue_lost_jobs() == 0
    assert broker.client.hlen(f"{broker.namespace}:test-lost.msgs") == 1


def test_a_send_interrupted_after_its_enqueue_leaves_no_marker_and_is_sent_again(factories, broker):
    job = record_without_sending("interrupted", factories.company().id, dt.timedelta(minutes=5))

    with pytest.raises(ConnectionError), sending_tracked(broker, [dramatiq.Message(**job.message)]) as pipeline:
        pipeline.publish("test-channel", "queued with the marker, never sent")
        raise ConnectionError("the process died here")

    assert not broker.client.exists(enqueued_marker(job.id))
    assert requeue_lost_jobs() == 1  # sent twice: actors are idempotent
    assert broker.client.exists(enqueued_marker(job.id))
