"""Scheduled messages and Status posts: the scheduler's tick claims the due rows once and queues their messages (or
the Status's job, workers/statuses.py).

Rows are claimed with `FOR UPDATE SKIP LOCKED` (PostgreSQL) and moved on (a one-off to `sent`, a
recurring one to its next `sendAt`) in the transaction that writes their messages, so two schedulers
ticking together queue each run once. Sends go out after the commit; a crash in between leaves Jobs
that `requeue_lost_jobs` sends.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import partial

from db.base import database, locked, utcnow
from db.contacts import Contact
from db.opt_outs import is_opted_out
from db.schedules import Schedule, ScheduleRun, next_cron_time
from db.tickets import ROLES_SEEING_ALL_TICKETS, Ticket, live_tickets, visible_to
from workers.campaigns import personalised, sending_ticket
from workers.inbound import upsert_contact
from workers.jobs import record_job, send_tracked
from workers.messages import dispatch_outbound, gateway_queue, media_options, write_outbound
from workers.number_limits import Grant, acquire
from workers.statuses import post_status
from workers.transports.base import StatusPost

logger = logging.getLogger(__name__)

BATCH = 500


class CannotSend(Exception):
    """This run cannot be sent (no connection, the contact is blocked): it fails."""


class Skipped(CannotSend):
    """This run is not sent, by the contact's wish (opted out): it is skipped, not failed."""


class Deferred(Exception):
    """The number's send limits allow no send now: the run waits `wait` seconds, then tries again."""

    def __init__(self, grant: Grant) -> None:
        super().__init__(f"deferred by the number's send limits ({grant.reason})")
        self.wait = grant.wait


def recipient_of(schedule: Schedule) -> Contact:
    contact = schedule.contact if schedule.contact_id else upsert_contact(schedule.company_id, schedule.to, None,
                                                                          is_group=schedule.to.endswith("@g.us"))
    if is_opted_out(contact):
        raise Skipped("opted_out: the contact opted out")
    if contact.blocked:
        raise CannotSend("the contact is blocked")
    if schedule.connection_id is None:
        raise CannotSend("the schedule has no connection")
    refuse_others_conversation(schedule, contact)
    return contact


def refuse_others_conversation(schedule: Schedule, contact: Contact) -> None:
    """An agent's schedule goes only into a conversation they may still write in: the API checked it when the
    schedule was written, and the ticket may have gone to another agent since (skipped, as their send would be
    refused; a recurring schedule tries again at its next time)."""
    author = schedule.user if schedule.user_id else None
    if author is None or author.role in ROLES_SEEING_ALL_TICKETS:
        return
    live = live_tickets(contact.id, schedule.connection_id).first()
    if live is not None and live.user_id != author.id and not Ticket.select().where(
            Ticket.id == live.id, visible_to(schedule.company_id, author.id, author.role)).exists():
        raise Skipped("another_agent: the conversation is another agent's now")


def queued_status(schedule: Schedule) -> Callable[[], None]:
    """The Status post's job, written in the caller's transaction; what sends it once that commits."""
    if schedule.connection_id is None:
        raise CannotSend("the schedule has no connection")
    _, message = record_job(post_status, schedule.connection_id, schedule.company_id,
                            {"text": schedule.body, "background": StatusPost.background, "font": StatusPost.font,
                             "mediaUrl": schedule.media_url},
                            company_id=schedule.company_id, user_id=schedule.user_id,
                            queue_name=gateway_queue(schedule.connection_id))
    return partial(send_tracked, post_status.broker, message)


def fire(schedule: Schedule, now: dt.datetime) -> Callable[[], None] | None:
    """Queue one run's message or Status post (in the caller's transaction) and move the schedule on; what sends it
    once the transaction commits."""
    outbound, dispatch, error, status = None, None, None, "queued"
    try:
        with database.atomic():
            if schedule.status_post:
                dispatch = queued_status(schedule)
            else:
                contact = recipient_of(schedule)
                grant = acquire(schedule.connection, 1, now.replace(tzinfo=dt.UTC).timestamp())
                if not grant.granted:
                    raise Deferred(grant)
                outbound = write_outbound(sending_ticket(contact, schedule.connection_id),
                                          personalised(schedule.body, contact), user_id=schedule.user_id,
                                          **media_options(schedule.media_url, schedule.voice_note))
                dispatch = partial(dispatch_outbound, outbound)
    except Deferred as deferred:  # not a run: the same run, later
        Schedule.update(send_at=now + dt.timedelta(seconds=deferred.wait), reason=str(deferred), updated_at=now).where(
            Schedule.id == schedule.id).execute()
        return None
    except CannotSend as refused:
        error, status = str(refused), "skipped" if isinstance(refused, Skipped) else "failed"
    except Exception as failure:  # one bad row must not hold back the others: it fails with the reason
        logger.exception("schedule %s could not be queued", schedule.id)
        error, status = f"could not queue the message: {failure}", "failed"
    ScheduleRun.create(schedule=schedule, message=outbound.message.id if outbound else None, due_at=schedule.send_at,
                       status=status, error=error)
    changes = {"last_run_at": now, "run_count": Schedule.run_count + 1, "updated_at": now, "reason": error}
    if schedule.cron:
        changes["send_at"] = next_cron_time(schedule.cron, schedule.timezone, max(now, schedule.send_at))
    else:
        changes["status"] = "sent" if status == "queued" else status
    Schedule.update(changes).where(Schedule.id == schedule.id).execute()
    return dispatch


def send_due_schedules(now: dt.datetime | None = None) -> int:
    """Scheduler job: queue every schedule due by `now`, in batches; returns how many ran."""
    now = now or utcnow()
    ran = 0
    while True:
        with database.atomic():
            due = list(locked(Schedule.select().where(Schedule.status == "pending", Schedule.send_at <= now)
                              .order_by(Schedule.send_at).limit(BATCH), skip_locked=True))
            dispatches = [dispatch for dispatch in (fire(schedule, now) for schedule in due) if dispatch]
        for dispatch in dispatches:
            dispatch()
        ran += len(due)
        if len(due) < BATCH:
            return ran
