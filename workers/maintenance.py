"""Housekeeping actors fired by the scheduler."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Collection

import dramatiq
import peewee
from peewee import fn

from api.ticket_json import tickets_json
from db.base import locked, utcnow
from db.company_settings import company_setting
from db.connection_events import ConnectionEvent
from db.connections import Connection
from db.contacts import Contact
from db.jobs import IDEMPOTENCY_WINDOW, IdempotencyKey, Job
from db.messages import Message, QuickMessage
from db.tickets import Ticket, wake
from wharf.media import media_store
from wharf.settings import settings
from workers.closing import close_ticket
from workers.csv_import import UPLOADS_DIR
from workers.events import Announcements, announcing

TICKET_BATCH = 200
CONNECTION_HISTORY = dt.timedelta(days=400)  # longer than the longest analytics period (366 days, api/periods.py)
MEDIA_GRACE = dt.timedelta(days=1)  # far longer than from a file's save to its message's commit
MEDIA_PAGE = 500


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def prune_finished_jobs() -> dict[str, int]:
    """Delete finished jobs past JOB_RETENTION_DAYS, idempotency keys past their window, uploads past
    the retention (an import keeps its file for its retries; one that failed for good kept it), and
    connection history older than the longest analytics period."""
    retention = utcnow() - dt.timedelta(days=settings.job_retention_days)
    jobs = Job.delete().where(Job.status.in_(("done", "failed")), Job.finished_at < retention).execute()
    keys = IdempotencyKey.delete().where(IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_WINDOW).execute()
    return {"jobs": jobs, "idempotencyKeys": keys, "uploads": prune_uploads(retention),
            "connectionEvents": prune_connection_history(utcnow() - CONNECTION_HISTORY)}


def prune_connection_history(older_than: dt.datetime) -> int:
    """Delete a connection's status changes before `older_than`, but the last of them: it says what
    the connection was when the kept history begins, which its uptime counts from."""
    later = ConnectionEvent.alias()
    superseded = later.select().where(
        later.connection == ConnectionEvent.connection, later.at < older_than,
        (later.at > ConnectionEvent.at) | ((later.at == ConnectionEvent.at) & (later.id > ConnectionEvent.id)),
    )
    return ConnectionEvent.delete().where(ConnectionEvent.at < older_than, fn.EXISTS(superseded)).execute()


def prune_uploads(older_than: dt.datetime) -> int:
    cutoff, pruned = older_than.replace(tzinfo=dt.UTC).timestamp(), 0
    for path in (settings.var_dir / UPLOADS_DIR).glob("*/*"):
        with contextlib.suppress(FileNotFoundError):  # an import that finished meanwhile removed it
            if path.stat().st_mtime < cutoff:
                path.unlink()
                pruned += 1
    return pruned


def referenced_media(keys: list[str]) -> set[str]:
    """Those of the media keys a message, a quick reply, a contact's profile picture or a number's own picture refers
    to."""
    messages = Message.select(Message.media_path).where(Message.media_path.in_(keys))
    quick_replies = QuickMessage.select(QuickMessage.media_path).where(QuickMessage.media_path.in_(keys))
    pictures = Contact.select(Contact.profile_pic_path).where(Contact.profile_pic_path.in_(keys))
    own_pictures = Connection.select(Connection.profile_picture_path).where(Connection.profile_picture_path.in_(keys))
    return {key for (key,) in messages.union(quick_replies).union(pictures).union(own_pictures).tuples()}


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def prune_orphan_media() -> int:
    """Delete the media files (var/media) that nothing refers to (`referenced_media`) once they are
    MEDIA_GRACE old: an upload whose request then failed, the files of deleted tickets or companies,
    an inbound file whose message a redelivery had stored first. Returns how many."""
    cutoff = (utcnow() - MEDIA_GRACE).replace(tzinfo=dt.UTC).timestamp()
    old_files = (path for path in media_store().root.glob("*/*") if path.stat().st_mtime < cutoff)
    pruned = 0
    while page := {f"{path.parent.name}/{path.name}": path for path in itertools.islice(old_files, MEDIA_PAGE)}:
        used = referenced_media(list(page))
        for key, path in page.items():
            if key not in used:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    pruned += 1
    return pruned


def announce_updates(announcements: Announcements, tickets: Collection[Ticket], **announced_with: str) -> None:
    """`ticket:update` for each of the tickets as they are in memory (with `announced_with`), in the change's
    transaction."""
    shapes = tickets_json(tickets)
    for ticket in tickets:
        announcements.add("ticket:update", ticket.company_id, {**shapes[ticket.id], **announced_with}, ticket=ticket)


def change_in_batches(tickets: peewee.ModelSelect, change: Callable[[list[Ticket]], object],
                      **announced_with: str) -> int:
    """`change` the tickets the query finds, a batch at a time, each announced (`ticket:update`, with
    `announced_with`) in its batch's transaction; `change` takes them out of the query. The batch is locked,
    skipping the tickets another transaction holds (they are coming alive). Returns how many changed."""
    changed = 0
    while True:
        with announcing() as announcements:  # the changes' webhooks commit with them
            batch = list(locked(tickets.order_by(Ticket.id).limit(TICKET_BATCH), skip_locked=True))
            change(batch)
            announce_updates(announcements, batch, **announced_with)
        changed += len(batch)
        if len(batch) < TICKET_BATCH:
            return changed


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def close_inactive_tickets(company_id: int) -> dict[str, int]:
    """Close the company's tickets idle past its `auto_close_after_hours`, through Ticket.close (history,
    events); a ticket that came alive meanwhile (locked, or touched since) is left open. A snoozed ticket is
    not idle but waiting: it is left alone until it wakes, which touches it, so its idle hours count from then."""
    hours = company_setting(company_id, "auto_close_after_hours")
    if not hours:
        return {"closed": 0}
    idle = Ticket.select().where(Ticket.company == company_id, Ticket.status != "closed", Ticket.snoozed_at.is_null(),
                                 Ticket.updated_at < utcnow() - dt.timedelta(hours=hours))

    def close(batch: list[Ticket]) -> None:
        for ticket in batch:
            close_ticket(ticket, None)

    return {"closed": change_in_batches(idle, close, closedBy="auto-close")}


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def wake_snoozed_tickets() -> dict[str, int]:
    """Wake the tickets whose snooze time has come (recorded as `woke` for `time`), every company's."""
    due = Ticket.select().where(Ticket.snoozed_until <= utcnow())
    return {"woken": change_in_batches(due, lambda batch: wake(batch, "time"))}
