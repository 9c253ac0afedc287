"""What Dramatiq keeps in Redis, read for people: queues with ready, delayed and dead counts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class QueueCounts:
    name: str
    ready: int
    delayed: int
    dead: int


@dataclass(frozen=True)
class WorkerBeat:
    worker_id: str
    seconds_ago: float


def queue_names(client: redis.Redis, namespace: str = "dramatiq") -> list[str]:
    """Every queue that has or had messages: the canonical names behind `<q>.msgs`, `<q>.DQ.msgs`, `<q>.XQ`."""
    names = set()
    prefix = f"{namespace}:"
    for raw in client.scan_iter(match=f"{prefix}*", count=500):
        key = raw.decode()[len(prefix):]
        if key.startswith("__"):
            continue
        for suffix in (".DQ.msgs", ".XQ.msgs", ".msgs", ".DQ", ".XQ"):
            if key.endswith(suffix):
                key = key[: -len(suffix)]
                break
        names.add(key)
    return sorted(names)


def queue_counts(client: redis.Redis, namespace: str = "dramatiq") -> list[QueueCounts]:
    names = queue_names(client, namespace)
    pipe = client.pipeline()
    for name in names:
        pipe.llen(f"{namespace}:{name}")
        pipe.llen(f"{namespace}:{name}.DQ")
        pipe.zcard(f"{namespace}:{name}.XQ")
    counts = pipe.execute()
    return [QueueCounts(name, *counts[i * 3 : i * 3 + 3]) for i, name in enumerate(names)]


def worker_beats(client: redis.Redis, namespace: str = "dramatiq") -> list[WorkerBeat]:
    now_ms = time.time() * 1000
    beats = client.zrange(f"{namespace}:__heartbeats__", 0, -1, withscores=True)
    return [WorkerBeat(worker.decode(), round((now_ms - score) / 1000, 1)) for worker, score in beats]
