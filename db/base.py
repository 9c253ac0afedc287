"""The database binding shared by every process, and the base model.

`database` is a proxy: each process binds it once with `connect_database(url)` (the API at
start-up, the workers in their middleware, the tests in fixtures). Both backends are pooled;
a pool that is exhausted makes the caller wait up to `wait_seconds` instead of failing, so a
burst of actors never loses a message for want of a connection.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import time
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import peewee
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

database = peewee.DatabaseProxy()


def utcnow() -> dt.datetime:
    """Naive UTC, the one form of time stored in the database."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class PooledPostgres(PooledPostgresqlDatabase):
    """Peewee's PostgreSQL pool, less a round trip per checkout.

    Peewee checks every connection it lends with a `SELECT 1`, under the pool's lock: every request
    and every actor message of a process waited for it in turn. A connection handed back in good
    order within the last `RECHECK_AFTER_SECONDS` is lent as it is (a failed statement leaves it in
    an unknown state, and such a connection is closed when it comes back); one idle for longer is
    checked as before, which is where a restarted server is noticed.
    """

    RECHECK_AFTER_SECONDS = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._returned_at: dict[int, float] = {}

    def _is_closed(self, conn) -> bool:
        returned_at = self._returned_at.pop(self.conn_key(conn), None)
        if returned_at is not None and time.monotonic() - returned_at < self.RECHECK_AFTER_SECONDS:
            return bool(conn.closed) or self._adapter.txn_status(conn) == self._adapter.txn_unknown
        return super()._is_closed(conn)

    def _close(self, conn, close_conn: bool = False) -> None:
        super()._close(conn, close_conn)
        if not close_conn and not conn.closed:
            self._returned_at[self.conn_key(conn)] = time.monotonic()


def make_database(url: str, pool_size: int = 10, wait_seconds: int = 30) -> peewee.Database:
    """A pooled Peewee database for a `postgresql://` or `sqlite:///` URL."""
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql"}:
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return PooledPostgres(
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
        sqlite.register_function(sqlite_local_week_hour, "wharf_local_week_hour", 2, deterministic=True)
        sqlite.register_function(sqlite_folded, "wharf_folded", 1, deterministic=True)
        sqlite.register_function(sqlite_json_text, "wharf_json_text", 2, deterministic=True)
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


def locked(query: peewee.ModelSelect, skip_locked: bool = False, no_key: bool = False) -> peewee.ModelSelect:
    """The rows a transaction claims: FOR UPDATE (SKIP LOCKED) on PostgreSQL. SQLite has no such
    clause and needs none: its transactions begin IMMEDIATE, so one writer at a time reads and claims.

    `no_key`: FOR NO KEY UPDATE, for a claim that changes no key: it neither waits for nor blocks the
    inserts of rows that refer to these (their foreign keys take a KEY SHARE lock)."""
    if not is_postgres():
        return query
    return query.for_update("FOR NO KEY UPDATE" if no_key else True, skip_locked=skip_locked)


def locked_in_id_order(model: type[peewee.Model], condition: peewee.Expression) -> peewee.Expression:
    """`id IN (…)` over the rows matching `condition`, locked in the order of their ids, for an UPDATE
    of many rows that other statements update too (a batch marked sent, a receipt): locked in two
    different orders (one by id, one by WhatsApp id), such statements deadlock each other."""
    return model.id.in_(locked(model.select(model.id).where(condition).order_by(model.id), no_key=True))


def sqlite_local_date(utc: str | None, timezone: str) -> str | None:
    """SQLite's `wharf_local_date(column, zone)`: SQLite knows no time zones, Python's zoneinfo does."""
    if utc is None:
        return None
    local = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))
    return local.date().isoformat()


def sqlite_local_week_hour(utc: str | None, timezone: str) -> int | None:
    """SQLite's `wharf_local_week_hour(column, zone)` (`local_week_hour`)."""
    if utc is None:
        return None
    local = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))
    return local.weekday() * 24 + local.hour


def local_week_hour(column: peewee.Node, timezone: str) -> peewee.Node:
    """The hour of the week in `timezone` of a naive-UTC column, 0 (Monday, 00:00–00:59) to 167 (Sunday, 23:00–23:59),
    computed by the database (for GROUP BY)."""
    if is_postgres():
        local = peewee.fn.timezone(timezone, peewee.fn.timezone("UTC", column))
        return peewee.Cast((peewee.fn.date_part("isodow", local) - 1) * 24 + peewee.fn.date_part("hour", local), "int")
    return peewee.fn.wharf_local_week_hour(column, timezone)


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


def sqlite_folded(text: str | None) -> str | None:
    """SQLite's `wharf_folded(text)`: `text` without case or accents ("AÇÃO" → "acao"): casefolded, decomposed
    (NFKD) and stripped of its combining marks. SQLite's own LIKE ignores the case of ASCII letters only."""
    if text is None:
        return None
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if unicodedata.category(c) != "Mn")


def holds(text: str, *columns: peewee.Node) -> peewee.Expression:
    """Any of `columns` holds `text`, ignoring case and accents ("joao" finds "João"), its `%`, `_` and `\\` taken
    literally. Both sides are folded alike, by `f_unaccent` (migration 037) and ILIKE on PostgreSQL, by
    `wharf_folded` on SQLite; the text is folded before its wildcards are escaped, since folding makes some
    (a full-width "％") of others."""
    fold = peewee.fn.f_unaccent if is_postgres() else peewee.fn.wharf_folded
    escaped = fold(text)
    for wildcard in ("\\", "%", "_"):  # the escape character first, or its escapes would be escaped again
        escaped = peewee.fn.replace(escaped, wildcard, "\\" + wildcard)
    pattern = peewee.NodeList((peewee.Value("%").concat(escaped).concat("%"), peewee.SQL("ESCAPE '\\'")))
    return functools.reduce(operator.or_, (peewee.Expression(fold(column), peewee.OP.ILIKE, pattern)
                                           for column in columns))


def same_text(column: peewee.Node, text: str) -> peewee.Expression:
    """`column` is `text`, ignoring case and accents, as `holds` compares."""
    fold = peewee.fn.f_unaccent if is_postgres() else peewee.fn.wharf_folded
    return peewee.fn.lower(fold(column)) == peewee.fn.lower(fold(text))


def json_text(column: peewee.Node, key: str) -> peewee.Node:
    """The value of `key` in a JSON object kept as text (`JSONField`), as text: a string as it is, a boolean `true` or
    `false`, a number as JSON writes it; NULL when it is absent or null."""
    if is_postgres():
        return peewee.Expression(peewee.Cast(column, "jsonb"), "->>", key)
    return peewee.fn.wharf_json_text(column, key)


def sqlite_json_text(text: str | None, key: str) -> str | None:
    """SQLite's `wharf_json_text(column, key)` (`json_text`): SQLite's own ->> gives a boolean as 1 or 0."""
    value = json.loads(text).get(key) if text else None
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


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


def in_id_batches(query: peewee.ModelSelect, batch_size: int = 1000) -> Iterator[list[peewee.Model]]:
    """The query's rows in batches in id order, each batch one query after the last id (no OFFSET), so a walk over any
    number of rows (an export, a re-timing) holds one batch in memory and reads each row once."""
    model = query.model
    last_id = 0
    while batch := list(query.where(model.id > last_id).order_by(model.id).limit(batch_size)):
        yield batch
        last_id = batch[-1].id
