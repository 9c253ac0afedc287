"""Enqueued work as the API reports it, and the answers kept for Idempotency-Key replays."""

import datetime as dt

import peewee

from db.base import BaseModel, JSONField, utcnow
from db.companies import Company
from db.users import User

JOB_STATUSES = ("queued", "running", "done", "failed")
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)


class Job(BaseModel):
    """One enqueued Dramatiq message; its id is the message id, so the dashboard and the API agree."""

    id = peewee.CharField(max_length=36, primary_key=True)
    company = peewee.ForeignKeyField(Company, null=True, backref="jobs", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    kind = peewee.CharField(max_length=60)
    queue_name = peewee.CharField(max_length=60, default="default")
    status = peewee.CharField(max_length=10, default="queued")
    progress = peewee.FloatField(default=0.0)
    result = JSONField(null=True)
    error = peewee.TextField(null=True)
    attempts = peewee.IntegerField(default=0)
    message = JSONField()  # the Dramatiq message, so a send lost in a crash can be sent again
    created_at = peewee.DateTimeField(default=utcnow)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("company", "created_at"), False), (("status", "created_at"), False))


class IdempotencyKey(BaseModel):
    """The first answer to a POST with an Idempotency-Key, replayed for 24 hours to the caller who sent it.

    A key belongs to its caller (`caller`: "user:<id>" or "api_key:<id>", api/idempotency.py), as at Stripe:
    two callers of one company may use the same key without seeing each other's answers. The unique index
    is what claims a key atomically for one caller.
    """

    company = peewee.ForeignKeyField(Company, on_delete="CASCADE")
    caller = peewee.CharField(max_length=40)  # "" for the keys claimed before 019, which no caller matches
    key = peewee.CharField(max_length=255)
    fingerprint = peewee.CharField(max_length=64)  # method, path, query and body (or form and files), hashed
    status_code = peewee.IntegerField(null=True)  # null while the first request is in flight
    response = peewee.TextField(null=True)  # the JSON body exactly as first sent
    created_at = peewee.DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("company", "caller", "key"), True),)
