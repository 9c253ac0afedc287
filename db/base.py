"""The database binding shared by every process, and the base model.

`database` is a proxy: each process binds it once with `connect_database(url)` (the API at
start-up, the workers in their middleware, the tests in fixtures). Both backends are pooled;
a pool that is exhausted makes the caller wait up to `wait_seconds` instead of failing, so a
burst of actors never loses a message for want of a connection.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import peewee
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

database = peewee.DatabaseProxy()


def utcnow() -> dt.datetime:
    """Naive UTC, the one form of time stored in the database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def make_database(url: str, pool_size: int = 10, wait_seconds: int = 30) -> peewee.Database:
    """A pooled Peewee database for a `postgresql://` or `sqlite:///` URL."""
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql"}:
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return PooledPostgresqlDatabase(
            parsed.path.lstrip("/"),
            user=parsed.username,
            password=parsed.password,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            max_connections=pool_size,
            timeout=wait_seconds,
            stale_timeout=300,
            **options,
        )
    if parsed.scheme == "sqlite":
        path = url.removeprefix("sqlite:///") or ":memory:"
        # The pool lends a connection to whichever thread asks next, not the one that opened it.
        sqlite = PooledSqliteDatabase(
            path,
            check_same_thread=False,
            max_connections=pool_size,
            timeout=wait_seconds,
            stale_timeout=300,
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000},
            lock_type="IMMEDIATE",  # a transaction takes the write lock as it begins: see `locked`
        )
        sqlite.register_function(sqlite_local_date, "wharf_local_date", 2, deterministic=True)
        return sqlite
    raise ValueError(f"unsupported DATABASE_URL scheme {parsed.scheme!r}")


def connect_database(url: str, pool_size: int = 10, wait_seconds: int = 30) -> peewee.Database:
    """Bind the shared proxy to a new pooled database and return it."""
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    bound = make_database(url, pool_size, wait_seconds)
    database.initialize(bound)
    return bound


def is_postgres() -> bool:
    return isinstance(database.obj, peewee.PostgresqlDatabase)


def locked(query: peewee.ModelSelect, skip_locked: bool = False) -> peewee.ModelSelect:
    """The rows a transaction claims: FOR UPDATE (SKIP LOCKED) on PostgreSQL. SQLite has no such
    clause and needs none: its transactions begin IMMEDIATE, so one writer at a time reads and claims."""
    return query.for_update(skip_locked=skip_locked) if is_postgres() else query


def sqlite_local_date(utc: str | None, timezone: str) -> str | None:
    """SQLite's `wharf_local_date(column, zone)`: SQLite knows no time zones, Python's zoneinfo does."""
    if utc is None:
        return None
    local = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))
    return local.date().isoformat()


def local_date(column: peewee.Node, timezone: str) -> peewee.Node:
    """The calendar date in `timezone` of a naive-UTC column, computed by the database (for GROUP BY).

    Not coerced: Peewee would read the date back as the column's type, a datetime."""
    if is_postgres():
        return peewee.fn.DATE(peewee.fn.timezone(timezone, peewee.fn.timezone("UTC", column))).coerce(False)
    return peewee.fn.wharf_local_date(column, timezone).coerce(False)


def as_date(value: dt.date | str) -> dt.date:
    """A `local_date` as it comes back: a date from PostgreSQL, ISO text from SQLite."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def seconds_between(start: peewee.Node, end: peewee.Node) -> peewee.Node:
    """`end - start` in seconds, in SQL (for AVG and SUM of durations)."""
    if is_postgres():
        return peewee.fn.date_part("epoch", end - start)
    return (peewee.fn.julianday(end) - peewee.fn.julianday(start)) * 86400


class JSONField(peewee.TextField):
    """JSON kept as text, so one schema serves SQLite and PostgreSQL alike."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"), default=str)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class TimestampedModel(BaseModel):
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    def save(self, *args: Any, **kwargs: Any) -> int:
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)
