"""The history of each connection's session status, from which its uptime is computed.

`Connection.status` says only what the session is now; a `ConnectionEvent` row is written for
every change the gateway reports (and for a stop), so "how long was this number connected this
week" is one query. A redelivered event writes nothing twice (unique on connection, time, status).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee
from peewee import Case, fn

from db.base import BaseModel, seconds_between
from db.connections import Connection

# What the history keeps: the QR codes that come every ~20 s while a login waits change no uptime.
HISTORY_STATUSES = ("connected", "disconnected", "logged_out", "stopped")


class ConnectionEvent(BaseModel):
    connection = peewee.ForeignKeyField(Connection, backref="events", on_delete="CASCADE")
    status = peewee.CharField(max_length=20)  # one of HISTORY_STATUSES
    at = peewee.DateTimeField()
    reason = peewee.TextField(null=True)

    class Meta:
        indexes = ((("connection", "at", "status"), True),)


def record_connection_status(
    connection_id: int, status: str, at: dt.datetime, reason: str | None = None
) -> None:
    """Add a status change to the history, once; nothing for a connection deleted meanwhile."""
    if status not in HISTORY_STATUSES:
        return
    still_there = Connection.select(
        Connection.id, peewee.Value(status), peewee.Value(at), peewee.Value(reason)
    ).where(Connection.id == connection_id)
    fields = [ConnectionEvent.connection, ConnectionEvent.status, ConnectionEvent.at, ConnectionEvent.reason]
    ConnectionEvent.insert_from(still_there, fields).on_conflict_ignore().execute()


@dataclass(frozen=True)
class Uptime:
    connected_seconds: float
    observed_seconds: float  # from the window's start, or the first event when later, to its end
    disconnects: int

    @property
    def ratio(self) -> float | None:
        return round(self.connected_seconds / self.observed_seconds, 4) if self.observed_seconds else None


def uptime_by_connection(
    connections: peewee.SelectQuery, since: dt.datetime, until: dt.datetime
) -> dict[int, Uptime]:
    """Each connection's time connected in [since, until), from its history, in one query.

    Every event opens a span that lasts until the connection's next event (LEAD over its history);
    spans are clipped to the window, and those whose status is `connected` are summed.
    """
    span_end = fn.LEAD(ConnectionEvent.at).over(
        partition_by=[ConnectionEvent.connection], order_by=[ConnectionEvent.at, ConnectionEvent.id]
    )
    spans = (
        ConnectionEvent.select(
            ConnectionEvent.connection, ConnectionEvent.status, ConnectionEvent.at, span_end.alias("ends_at")
        )
        .where(ConnectionEvent.connection.in_(connections), ConnectionEvent.at < until)
        .alias("spans")
    )
    start = Case(None, [(spans.c.at < since, since)], spans.c.at)
    end = fn.COALESCE(spans.c.ends_at, until)
    seconds = seconds_between(start, end)
    rows = (
        ConnectionEvent.select(
            spans.c.connection_id,
            fn.SUM(Case(None, [(spans.c.status == "connected", seconds)], 0)),
            fn.SUM(seconds),
            fn.SUM(Case(None, [((spans.c.status == "disconnected") & (spans.c.at >= since), 1)], 0)),
        )
        .from_(spans)
        .where(end > since)
        .group_by(spans.c.connection_id)
        .tuples()
    )
    return {
        connection_id: Uptime(float(connected or 0), float(observed or 0), int(disconnects or 0))
        for connection_id, connected, observed, disconnects in rows
    }
