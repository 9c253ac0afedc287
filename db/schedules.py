"""Scheduled messages (one-off at `send_at`, or recurring by cron in a timezone) and their runs.

The scheduler claims due rows by `(status, send_at)`; a recurring row stays pending with its next
`send_at`, so a million waiting rows are one index the tick reads the head of.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import peewee
from croniter import croniter

from db.base import BaseModel, TimestampedModel, utcnow
from db.companies import Company
from db.connections import Connection
from db.contacts import Contact
from db.messages import Message
from db.users import User

SCHEDULE_STATUSES = ("pending", "sent", "cancelled", "failed", "skipped")  # skipped: the contact opted out


def next_cron_time(cron: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first time `cron` fires after `after` (naive UTC), read in `timezone`; naive UTC."""
    local = after.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))
    fires = croniter(cron, local).get_next(dt.datetime)
    return fires.astimezone(dt.UTC).replace(tzinfo=None)


def is_valid_cron(cron: str) -> bool:
    return croniter.is_valid(cron)


class Schedule(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="schedules", on_delete="CASCADE")
    connection = peewee.ForeignKeyField(Connection, null=True, on_delete="SET NULL")
    contact = peewee.ForeignKeyField(Contact, null=True, on_delete="CASCADE")
    to = peewee.CharField(max_length=64, null=True)  # a phone, when no contact is given
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    body = peewee.TextField(default="")
    media_url = peewee.TextField(null=True)
    voice_note = peewee.BooleanField(default=False)  # the media URL's audio goes as a voice note, with no text
    status_post = peewee.BooleanField(default=False)  # a WhatsApp Status for the number's contacts, to no one
    send_at = peewee.DateTimeField()
    cron = peewee.CharField(max_length=100, null=True)
    timezone = peewee.CharField(max_length=64, default="UTC")
    status = peewee.CharField(max_length=10, default="pending")
    reason = peewee.TextField(null=True)
    last_run_at = peewee.DateTimeField(null=True)
    run_count = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("status", "send_at"), False), (("company", "status", "send_at"), False))


class ScheduleRun(BaseModel):
    """One firing of a schedule: the message it queued, or why it could not."""

    schedule = peewee.ForeignKeyField(Schedule, backref="runs", on_delete="CASCADE")
    message = peewee.ForeignKeyField(Message, null=True, on_delete="SET NULL")
    due_at = peewee.DateTimeField()
    status = peewee.CharField(max_length=10)  # queued | failed | skipped (the contact opted out)
    error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("schedule", "due_at"), True),)
