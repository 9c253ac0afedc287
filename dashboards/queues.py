"""What Dramatiq keeps in Redis, read for people: queues and their messages, workers, throughput.

Dramatiq's Redis broker (its `dispatch.lua`) keeps, for a queue `q` in namespace `dramatiq`:
`dramatiq:q` (a list of the Redis ids of ready messages), `dramatiq:q.msgs` (a hash of id -> encoded
message, for ready ones and for those workers fetched and have not acknowledged yet), the same two
for its delay queue `q.DQ` (workers fetch delayed messages into memory and enqueue them on `q` at
their eta, so the hash, not the list, holds what is delayed), and the dead letters in `q.XQ` (a
sorted set by the time they died) with `q.XQ.msgs`. Each encoded message is Dramatiq's JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from dataclasses import dataclass

import redis
from dramatiq import Message
from dramatiq.errors import DecodeError

from db.jobs import Job
from workers.middleware import WORKERS_KEY, stats_key

STATES = ("ready", "delayed", "dead")
DELAYED_SCAN_LIMIT = 2000  # delayed messages are not kept in eta order; sort at most this many
GONE_WORKERS_SHOWN_FOR = 600  # seconds a worker that stopped beating stays on the page


@dataclass(frozen=True)
class QueueKeys:
    namespace: str
    name: str

    @property
    def ready(self) -> str:
        return f"{self.namespace}:{self.name}"

    @property
    def messages(self) -> str:
        return f"{self.ready}.msgs"

    @property
    def delayed(self) -> str:
        return f"{self.ready}.DQ"

    @property
    def delayed_messages(self) -> str:
        return f"{self.ready}.DQ.msgs"

    @property
    def dead(self) -> str:
        return f"{self.ready}.XQ"

    @property
    def dead_messages(self) -> str:
        return f"{self.ready}.XQ.msgs"


@dataclass(frozen=True)
class QueueCounts:
    name: str
    ready: int
    in_progress: int  # fetched by a worker: running, or prefetched and waiting for a thread
    delayed: int
    dead: int


@dataclass(frozen=True)
class QueuedMessage:
    redis_id: str
    message_id: str
    actor: str
    arguments: str
    enqueued_at: dt.datetime | None
    eta: dt.datetime | None
    retries: int
    last_error: str
    dead_at: dt.datetime | None = None


@dataclass(frozen=True)
class WorkerProcess:
    worker_id: str
    seconds_ago: float
    alive: bool
    host: str
    pid: int | None
    threads: int | None
    queues: list[str]
    held: int  # messages fetched and not acknowledged yet, delayed ones included


@dataclass(frozen=True)
class Minute:
    at: dt.datetime
    processed: int
    failed: int

    @property
    def failure_rate(self) -> float:
        return self.failed / self.processed if self.processed else 0.0


def from_millis(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC) if value else None


def error_line(text: str | None) -> str:
    """The line that names the exception, in a traceback or in `format_exception_only`'s text (whose
    message may go on over more lines: a missing row's SQL)."""
    lines = (text or "").strip().splitlines()
    frames = [i for i, line in enumerate(lines) if line[:1].isspace()]
    after = frames[-1] + 1 if frames else 0
    return lines[after] if after < len(lines) else ""


def queue_names(client: redis.Redis, namespace: str, declared: set[str] = frozenset()) -> list[str]:
    """The `declared` queues and every other one that has messages in Redis (the canonical names behind
    `<q>`, `<q>.msgs`, `<q>.DQ.msgs`, `<q>.XQ`...): a gateway's queues are declared in the gateway only."""
    names = set(declared)
    prefix = f"{namespace}:"
    for raw in client.scan_iter(match=f"{prefix}*", count=500):
        key = raw.decode()[len(prefix) :]
        if key.startswith("__"):
            continue
        for suffix in (".DQ.msgs", ".XQ.msgs", ".msgs", ".DQ", ".XQ"):
            if key.endswith(suffix):
                key = key[: -len(suffix)]
                break
        names.add(key)
    return sorted(names)


def queue_counts(client: redis.Redis, namespace: str, names: list[str]) -> list[QueueCounts]:
    pipe = client.pipeline(transaction=False)
    for name in names:
        keys = QueueKeys(namespace, name)
        pipe.llen(keys.ready)
        pipe.hlen(keys.messages)
        pipe.hlen(keys.delayed_messages)
        pipe.zcard(keys.dead)
    counts = pipe.execute()
    result = []
    for i, name in enumerate(names):
        ready, held, delayed, dead = counts[i * 4 : i * 4 + 4]
        result.append(QueueCounts(name, ready, max(0, held - ready), delayed, dead))
    return result


def describe(redis_id: str, data: bytes | None, dead_at: float | None = None) -> QueuedMessage:
    """A message as the browser shows it; an undecodable one still gets a row, saying so."""
    try:
        message = Message.decode(data or b"")
    except DecodeError:
        return QueuedMessage(
            redis_id,
            "",
            "(undecodable)",
            (data or b"")[:200].decode(errors="replace"),
            None,
            None,
            0,
            "",
            from_millis(dead_at),
        )
    arguments = json.dumps(list(message.args), ensure_ascii=False, default=str)
    if message.kwargs:
        arguments += " " + json.dumps(message.kwargs, ensure_ascii=False, default=str)
    return QueuedMessage(
        redis_id=redis_id,
        message_id=message.message_id,
        actor=message.actor_name,
        arguments=arguments,
        enqueued_at=from_millis(message.message_timestamp),
        eta=from_millis(message.options.get("eta")),
        retries=message.options.get("retries", 0),
        last_error=error_line(message.options.get("traceback")),
        dead_at=from_millis(dead_at),
    )


def browse(
    client: redis.Redis, namespace: str, queue: str, state: str, offset: int = 0, limit: int = 50
) -> tuple[list[QueuedMessage], int]:
    """One page of a queue's ready (oldest first), delayed (soonest first) or dead (newest first)
    messages, and how many there are in that state."""
    keys = QueueKeys(namespace, queue)
    if state == "ready":
        ids = [raw.decode() for raw in client.lrange(keys.ready, offset, offset + limit - 1)]
        data = client.hmget(keys.messages, ids) if ids else []
        return with_job_errors([describe(i, d) for i, d in zip(ids, data, strict=True)]), client.llen(
            keys.ready
        )
    if state == "delayed":
        scanned = []
        for redis_id, data in client.hscan_iter(keys.delayed_messages, count=500):
            scanned.append(describe(redis_id.decode(), data))
            if len(scanned) >= DELAYED_SCAN_LIMIT:
                break
        scanned.sort(key=lambda m: m.eta or dt.datetime.max.replace(tzinfo=dt.UTC))
        return with_job_errors(scanned[offset : offset + limit]), client.hlen(keys.delayed_messages)
    if state == "dead":
        entries = client.zrevrange(keys.dead, offset, offset + limit - 1, withscores=True)
        ids = [raw.decode() for raw, _ in entries]
        data = client.hmget(keys.dead_messages, ids) if ids else []
        rows = [describe(i, d, score) for i, d, (_, score) in zip(ids, data, entries, strict=True)]
        return with_job_errors(rows), client.zcard(keys.dead)
    raise ValueError(f"unknown state {state!r}")


def with_job_errors(messages: list[QueuedMessage]) -> list[QueuedMessage]:
    """The last error of tracked jobs from their Job rows: a message's own traceback is the one before
    its last try (Dramatiq dead-letters the copy it fetched, and Retries records the error on the next)."""
    ids = [m.message_id for m in messages if m.message_id]
    if not ids:
        return messages
    errors = dict(Job.select(Job.id, Job.error).where(Job.id.in_(ids), Job.error.is_null(False)).tuples())
    return [
        dataclasses.replace(m, last_error=error_line(errors[m.message_id])) if errors.get(m.message_id) else m
        for m in messages
    ]


def worker_processes(client: redis.Redis, namespace: str, heartbeat_timeout_ms: int) -> list[WorkerProcess]:
    """The worker processes (`dramatiq workers` and gateways) by Dramatiq's heartbeats and our registry.

    Every process that talks to the broker beats (the API and the scheduler when they enqueue), so
    only the ones `QueueStats` registered are workers. A registration whose heartbeat Dramatiq has
    dropped (a worker killed hard, long gone) is removed here.
    """
    now_ms = time.time() * 1000
    beats = {
        worker.decode(): score
        for worker, score in client.zrange(f"{namespace}:__heartbeats__", 0, -1, withscores=True)
    }
    registry = {key.decode(): json.loads(value) for key, value in client.hgetall(WORKERS_KEY).items()}
    gone = [
        worker_id
        for worker_id in registry
        if worker_id not in beats or now_ms - beats[worker_id] > GONE_WORKERS_SHOWN_FOR * 1000
    ]
    if gone:
        client.hdel(WORKERS_KEY, *gone)
    processes = []
    for worker_id, about in sorted(registry.items(), key=lambda item: (item[1]["host"], item[1]["pid"])):
        if worker_id in gone:
            continue
        ack_sets = list(client.scan_iter(match=f"{namespace}:__acks__.{worker_id}.*", count=500))
        pipe = client.pipeline(transaction=False)
        for key in ack_sets:
            pipe.scard(key)
        held = sum(pipe.execute()) if ack_sets else 0
        age = now_ms - beats[worker_id]
        processes.append(
            WorkerProcess(
                worker_id,
                round(age / 1000, 1),
                age < heartbeat_timeout_ms,
                about["host"],
                about["pid"],
                about["threads"],
                about["queues"],
                held,
            )
        )
    return processes


def minutes(client: redis.Redis, count: int = 60, queue: str | None = None) -> list[Minute]:
    """Processed and failed messages per minute for the last `count` minutes (the current one last),
    of one queue or of all."""
    now_minute = int(time.time()) // 60
    wanted = range(now_minute - count + 1, now_minute + 1)
    pipe = client.pipeline(transaction=False)
    for minute in wanted:
        pipe.hgetall(stats_key(minute))
    result = []
    for minute, fields in zip(wanted, pipe.execute(), strict=True):
        totals = {"processed": 0, "failed": 0}
        for field, value in fields.items():
            name, _, kind = field.decode().rpartition(":")
            if queue is None or name == queue:
                totals[kind] += int(value)
        result.append(
            Minute(dt.datetime.fromtimestamp(minute * 60, dt.UTC), totals["processed"], totals["failed"])
        )
    return result
