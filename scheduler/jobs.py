"""The scheduler's periodic jobs: one list with stable ids. Each claims work and enqueues it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from db.base import utcnow
from db.companies import Setting
from db.connections import Connection
from db.jobs import Job
from scheduler.status import check_dependencies
from wharf.settings import settings
from workers.assignment import assign_waiting_tickets
from workers.broker import broker
from workers.campaigns import restart_stalled_campaigns, start_due_campaigns
from workers.flows.engine import resume_due_sessions
from workers.jobs import enqueued_marker, resend_job, without_marker
from workers.maintenance import (
    close_inactive_tickets,
    prune_finished_jobs,
    prune_orphan_media,
    wake_snoozed_tickets,
)
from workers.messages import gateway_queue
from workers.schedules import send_due_schedules
from workers.sla import record_sla_misses
from workers.stranded_delays import requeue_stranded_delays
from workers.watchdogs import check_connections, flag_overdue_acks
from workers.webhooks import prune_webhook_deliveries, resend_lost_deliveries

logger = logging.getLogger(__name__)

def requeue_lost_jobs(lost_after: dt.timedelta | None = None) -> int:
    """Send again the queued jobs whose message never reached Redis, or that Redis lost since.

    Once a message is in Redis, Dramatiq owns it (it even takes it back from dead workers);
    only a job with no enqueued marker is lost. A job is given `lost_after` (LOST_JOB_SECONDS)
    to get its marker, since its message is sent just after the commit that wrote it.
    """
    if lost_after is None:
        lost_after = dt.timedelta(seconds=settings.lost_job_seconds)
    stale = list(Job.select().where(Job.status == "queued", Job.created_at < utcnow() - lost_after).limit(500))
    lost = without_marker(broker.client, stale, lambda job: enqueued_marker(job.id))
    for job in lost:
        resend_job(broker, job)
    if lost:
        logger.warning("sent %d lost job messages again", len(lost))
    return len(lost)


def requeue_stranded_delayed_messages() -> int:
    """`requeue_stranded_delays` on every queue: the actors' and each connection's send queue."""
    send_queues = {gateway_queue(connection_id) for (connection_id,) in Connection.select(Connection.id).tuples()}
    return requeue_stranded_delays(broker, broker.get_declared_queues() | send_queues)


def enqueue_job_pruning() -> None:
    prune_finished_jobs.send()


def enqueue_ticket_auto_close() -> int:
    """Send `close_inactive_tickets` for each company whose `auto_close_after_hours` is set."""
    rows = Setting.select(Setting.company, Setting.value).where(Setting.key == "auto_close_after_hours")
    companies = [row.company_id for row in rows if row.value]
    for company_id in companies:
        close_inactive_tickets.send(company_id)
    return len(companies)


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    run: Callable[[], object]
    seconds: int


PERIODIC_JOBS = [
    PeriodicJob("requeue_lost_jobs", requeue_lost_jobs, seconds=max(5, settings.lost_job_seconds // 2)),
    PeriodicJob("requeue_stranded_delays", requeue_stranded_delayed_messages,
                seconds=max(1, settings.stranded_delay_seconds // 2)),
    PeriodicJob("prune_finished_jobs", enqueue_job_pruning, seconds=3600),
    PeriodicJob("prune_webhook_deliveries", prune_webhook_deliveries.send, seconds=3600),
    PeriodicJob("resend_lost_webhook_deliveries", resend_lost_deliveries, seconds=60),
    PeriodicJob("prune_orphan_media", prune_orphan_media.send, seconds=6 * 3600),
    PeriodicJob("send_due_schedules", send_due_schedules, seconds=1),
    PeriodicJob("start_due_campaigns", start_due_campaigns, seconds=2),
    PeriodicJob("restart_stalled_campaigns", restart_stalled_campaigns, seconds=30),
    PeriodicJob("resume_due_flow_sessions", resume_due_sessions, seconds=1),
    PeriodicJob("check_dependencies", check_dependencies, seconds=15),
    PeriodicJob("check_connections", check_connections.send, seconds=30),
    PeriodicJob("flag_overdue_acks", flag_overdue_acks.send, seconds=60),
    PeriodicJob("close_inactive_tickets", enqueue_ticket_auto_close, seconds=300),
    PeriodicJob("wake_snoozed_tickets", wake_snoozed_tickets.send, seconds=60),
    PeriodicJob("assign_waiting_tickets", assign_waiting_tickets, seconds=10),
    PeriodicJob("record_sla_misses", record_sla_misses.send, seconds=60),
]
