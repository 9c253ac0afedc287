"""009: per-key rate limits and usage counters on API keys."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields(
        "api_key",
        rate_limit_per_minute=pw.IntegerField(default=600),
        request_count=pw.BigIntegerField(default=0),
        enqueued_job_count=pw.BigIntegerField(default=0),
        last_ip=pw.CharField(max_length=45, null=True),
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("api_key", "rate_limit_per_minute", "request_count", "enqueued_job_count", "last_ip")
