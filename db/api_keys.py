"""API keys: how a program calls the API without a user's token, limited to the scopes it was given."""

import peewee

from db.base import JSONField, TimestampedModel
from db.companies import Company
from db.users import User
from wharf.settings import settings

SCOPES = (
    "messages:send",
    "messages:read",
    "contacts:read",
    "contacts:write",
    "groups:write",
    "campaigns:write",
    "flows:run",
    "flows:write",
    "webhooks:write",
    "tickets:read",
    "tickets:write",
    "leads:read",
    "leads:write",
)
# The scopes that start jobs: a key holding one may follow its work at /api/jobs.
ENQUEUEING_SCOPES = ("messages:send", "contacts:write", "groups:write", "campaigns:write", "flows:run",
                     "webhooks:write", "leads:write")


def default_rate_limit_per_minute() -> int:
    return settings.api_key_rate_limit_per_minute


class ApiKey(TimestampedModel):
    """A company's key; only its SHA-256 is stored (the key is shown once), `prefix` tells keys apart in lists.

    The usage columns lag: each request counts in Redis, and the counts move here at most once a
    minute per key (api/key_usage.py), so a busy key costs the database one write a minute.
    """

    company = peewee.ForeignKeyField(Company, backref="api_keys", on_delete="CASCADE")
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    name = peewee.CharField(max_length=100)
    prefix = peewee.CharField(max_length=16)
    key_hash = peewee.CharField(max_length=64, unique=True)
    scopes = JSONField(default=list)
    expires_at = peewee.DateTimeField(null=True)
    last_used_at = peewee.DateTimeField(null=True)
    rate_limit_per_minute = peewee.IntegerField(default=default_rate_limit_per_minute)
    request_count = peewee.BigIntegerField(default=0)
    enqueued_job_count = peewee.BigIntegerField(default=0)
    last_ip = peewee.CharField(max_length=45, null=True)
