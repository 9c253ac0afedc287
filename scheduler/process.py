"""`wharf scheduler`: APScheduler's BlockingScheduler, firing jobs only while it holds the lock."""

from __future__ import annotations

import functools
import logging
import signal

from apscheduler.schedulers.blocking import BlockingScheduler

from db.base import database
from scheduler.jobs import PERIODIC_JOBS, PeriodicJob
from wharf.leases import Lease
from wharf.redis_client import redis_client

logger = logging.getLogger(__name__)

RENEW_SECONDS = 5
LEADER_KEY = "wharf:scheduler:leader"


def run_if_leader(lock: Lease, job: PeriodicJob) -> None:
    if not lock.is_held():
        return
    database.connect(reuse_if_open=True)
    try:
        job.run()
    finally:
        database.close()


def build_scheduler(lock: Lease) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})

    def keep_leadership() -> None:
        was_leader = lock.is_held()
        leading = lock.hold()
        if leading != was_leader:
            logger.info("scheduler %s %s", lock.token, "is now the leader" if leading else "lost the lead")

    scheduler.add_job(keep_leadership, "interval", seconds=RENEW_SECONDS, id="leadership")
    for job in PERIODIC_JOBS:
        scheduler.add_job(functools.partial(run_if_leader, lock, job), "interval", seconds=job.seconds, id=job.id)
    keep_leadership()
    return scheduler


def run_scheduler() -> None:
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run of every 5 s job
    lock = Lease(redis_client(), LEADER_KEY)
    scheduler = build_scheduler(lock)

    def stop(_signum, _frame) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    logger.info("scheduler %s starting", lock.token)
    try:
        scheduler.start()
    finally:
        lock.release()
