"""Scheduled messages: the scheduler's tick claims the due rows once and queues their messages.

Rows are claimed with `FOR UPDATE SKIP LOCKED` (PostgreSQL) and moved on (a one-off to `sent`, a
recurring one to its next `sendAt`) in the transaction that writes their messages, so two schedulers
ticking together queue each run once. Sends go out after the commit; a crash in between leaves Jobs
that `requeue_lost_jobs` sends.
"""

from __future__ import annotations

import datetime as dt
import logging

from db.base import database, utcnow
from db.contacts import Contact
from db.schedules import Schedule, ScheduleRun, next_cron_time
from workers.campaigns import media_options, personalised, sending_ticket
from workers.inbound import upsert_contact
from workers.messages import Outbound, dispatch_outbound, write_outbound

logger = logging.getLogger(__name__)

BATCH = 500


class CannotSend(Exception):
    """This run cannot be sent (no connection, the contact opted out or is blocked)."""


def recipient_of(schedule: Schedule) -> Contact:
    contact = schedule.contact if schedule.contact_id else upsert_contact(schedule.company_id, schedule.to, None, False)
    if contact.opted_out_at is not None:
        raise CannotSend("the contact opted out")
    if contact.blocked:
        raise CannotSend("the contact is blocked")
    if schedule.connection_id is None:
        raise CannotSend("the schedule has no connection")
    return contact


def fire(schedule: Schedule, now: dt.datetime) -> Outbound | None:
    """Queue one run's message (in the caller's transaction) and move the schedule on."""
    outbound, error = None, None
    try:
        with database.atomic():
            contact = recipient_of(schedule)
            outbound = write_outbound(sending_ticket(contact, schedule.connection_id),
                                      personalised(schedule.body, contact), user_id=schedule.user_id,
                                      **media_options(schedule.media_url))
    except CannotSend as refused:
        error = str(refused)
    except Exception as failure:  # one bad row must not hold back the others: it fails with the reason
        logger.exception("schedule %s could not be queued", schedule.id)
        error = f"could not queue the message: {failure}"
    ScheduleRun.create(schedule=schedule, message=outbound.message.id if outbound else None, due_at=schedule.send_at,
                       status="failed" if error else "queued", error=error)
    changes = {"last_run_at": now, "run_count": Schedule.run_count + 1, "updated_at": now, "reason": error}
    if schedule.cron:
        changes["send_at"] = next_cron_time(schedule.cron, schedule.timezone, max(now, schedule.send_at))
    else:
        changes["status"] = "failed" if error else "sent"
    Schedule.update(changes).where(Schedule.id == schedule.id).execute()
    return outbound


def send_due_schedules(now: dt.datetime | None = None) -> int:
    """Scheduler job: queue every schedule due by `now`, in batches; returns how many ran."""
    now = now or utcnow()
    ran = 0
    while True:
        with database.atomic():
            due = list(Schedule.select().where(Schedule.status == "pending", Schedule.send_at <= now)
                       .order_by(Schedule.send_at).limit(BATCH).for_update(skip_locked=True))
            outbounds = [outbound for outbound in (fire(schedule, now) for schedule in due) if outbound]
        for outbound in outbounds:
            dispatch_outbound(outbound)
        ran += len(due)
        if len(due) < BATCH:
            return ran
