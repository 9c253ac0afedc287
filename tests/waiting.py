"""Waiting for work done by other threads and processes, without fixed sleeps."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """True as soon as `predicate()` is, False when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def finished_job(answer):
    """The Job a 202 answer names, once it is done or failed (within 20 s)."""
    from db.jobs import Job

    assert answer.status_code == 202, answer.get_json()
    job_id = answer.get_json()["jobId"]
    assert wait_for(lambda: Job.get_by_id(job_id).status in ("done", "failed"), timeout=20)
    return Job.get_by_id(job_id)
