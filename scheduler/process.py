"""`wharf scheduler`: APScheduler's BlockingScheduler, firing jobs only while it holds the lock."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import signal
import socket
import time
import uuid

import redis
from apscheduler.schedulers.blocking import BlockingScheduler

from db.base import database
from scheduler.jobs import PERIODIC_JOBS, PeriodicJob
from scheduler.status import LEADER_KEY, record_run
from wharf.leases import Lease
from wharf.redis_client import redis_client
from wharf.settings import settings

logger = logging.getLogger(__name__)


def run_if_leader(lock: Lease, job: PeriodicJob) -> None:
    try:
        if not lock.is_held():
            return
    except redis.RedisError:  # no lead without Redis; `keep_leadership` says so
        return
    started_at, started = time.time(), time.perf_counter()
    error = None
    try:
        database.connect(reuse_if_open=True)  # inside: a database that cannot be reached is this run's error
        job.run()
    except Exception as failure:
        error = str(failure) or repr(failure)
        raise
    finally:
        database.close()
        try:
            record_run(job.id, started_at, time.perf_counter() - started, error, by=lock.token)
        except Exception:  # Redis down: the run happened all the same, and the health check will say why
            logger.warning("could not record the run of %s", job.id, exc_info=True)


def build_scheduler(lock: Lease) -> BlockingScheduler:
    """Every periodic job, and a job that keeps the lead: a scheduler that gains the lead fires every job at once."""
    scheduler = BlockingScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    )

    def keep_leadership() -> None:
        try:
            was_leader = lock.is_held()
            leading = lock.hold()
        except redis.RedisError as error:  # Redis down or restarting: its lease lapses, the jobs wait for it
            logger.warning("scheduler %s cannot reach Redis to hold the lead: %s", lock.token, error)
            return
        if leading != was_leader:
            logger.info("scheduler %s %s", lock.token, "is now the leader" if leading else "lost the lead")
        if leading and not was_leader:
            now = dt.datetime.now(dt.UTC)
            for job in PERIODIC_JOBS:
                scheduler.modify_job(job.id, next_run_time=now)

    for job in PERIODIC_JOBS:
        scheduler.add_job(
            functools.partial(run_if_leader, lock, job), "interval", seconds=job.seconds, id=job.id
        )
    renew_seconds = max(1, lock.ttl_ms // 3000)  # three chances to renew before the lease lapses
    scheduler.add_job(keep_leadership, "interval", seconds=renew_seconds, id="leadership",
                      next_run_time=dt.datetime.now(dt.UTC))  # at once, on start
    return scheduler


def run_scheduler() -> None:
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run of every 5 s job
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # the dashboard shows who leads
    lock = Lease(redis_client(), LEADER_KEY, ttl_ms=settings.scheduler_lease_seconds * 1000, owner=owner)
    scheduler = build_scheduler(lock)

    def stop(_signum, _frame) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    logger.info("scheduler %s starting", lock.token)
    try:
        scheduler.start()
    finally:
        lock.release()
