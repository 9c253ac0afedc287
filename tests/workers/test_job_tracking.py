"""Job rows follow their messages: queued, running, done with the result, or failed with the error."""

from __future__ import annotations

import os
import time

import dramatiq
import pytest

from db.base import database
from db.jobs import Job
from workers.jobs import enqueue_job, report_progress

attempts: dict[str, int] = {}


@dramatiq.actor(queue_name="test-jobs", max_retries=0)
def add_numbers(a: int, b: int) -> dict:
    report_progress(0.5)
    return {"sum": a + b}


@dramatiq.actor(queue_name="test-jobs", max_retries=0)
def always_fails() -> None:
    raise ValueError("the input was unusable")


@dramatiq.actor(queue_name="test-jobs", max_retries=2, min_backoff=10, max_backoff=20)
def fails_once(key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] == 1:
        raise ConnectionError("transient")
    return "ok"


def run_all(broker, worker) -> None:
    broker.join("test-jobs", timeout=10_000)
    worker.join()


def test_a_job_runs_to_done_with_its_result(broker, worker, factories):
    company = factories.company()

    job = enqueue_job(add_numbers, 2, 3, company_id=company.id)
    run_all(broker, worker)

    done = Job.get_by_id(job.id)
    assert (done.status, done.result, done.progress, done.attempts) == ("done", {"sum": 5}, 1.0, 1)
    assert done.kind == "add_numbers" and done.started_at and done.finished_at


def test_a_job_that_exhausts_its_retries_is_failed_with_the_error(broker, worker, factories):
    job = enqueue_job(always_fails, company_id=factories.company().id)
    broker.join("test-jobs", timeout=10_000)
    worker.join()

    failed = Job.get_by_id(job.id)
    assert failed.status == "failed"
    assert "ValueError: the input was unusable" in failed.error


def test_a_transient_failure_is_retried_and_ends_done(broker, worker, factories):
    job = enqueue_job(fails_once, "retry-me", company_id=factories.company().id)
    run_all(broker, worker)

    done = Job.get_by_id(job.id)
    assert done.status == "done" and done.attempts == 2 and done.error is None


def test_enqueueing_inside_a_transaction_is_refused(database, factories):
    company = factories.company()
    with pytest.raises(RuntimeError), database.atomic():
        enqueue_job(add_numbers, 1, 1, company_id=company.id)


def test_an_exhausted_pool_makes_the_message_wait_not_vanish(broker, factories):
    """With a pool of one connection held elsewhere, the actor waits for it and still runs."""
    from db.base import make_database
    from tests.conftest import running_worker

    company = factories.company()
    small = make_database(os.environ["DATABASE_URL"], pool_size=1, wait_seconds=10)
    original = database.obj
    database.initialize(small)
    try:
        small.connect()  # this thread holds the only connection
        job = enqueue_job(add_numbers, 20, 22, company_id=company.id)
        with running_worker(broker, worker_threads=1):
            time.sleep(1.0)  # the worker is now waiting for the pool
            small.close()  # this thread gives its connection back
            broker.join("test-jobs", timeout=15_000)
        assert Job.get_by_id(job.id).status == "done"
    finally:
        database.initialize(original)
        small.close_all()
