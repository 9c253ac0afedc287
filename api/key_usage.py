"""Per-key rate limits and usage counters, kept in Redis so every API process shares them.

A request made with a key costs one round trip: a script counts it in the key's window (a fixed
window that opens with the window's first request), adds it to the key's pending usage and tells
whether this process should move that usage to the key's row. That happens at most once a minute
per key, so a busy key costs the database one write a minute; readers add what is still pending.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from redis.commands.core import Script

from db.api_keys import ApiKey
from wharf.redis_client import redis_client

WINDOW_SECONDS = 60  # the limit is per minute
FLUSH_SECONDS = 60  # pending usage reaches the row at most this often per key

# KEYS: window counter, pending usage, flush marker. ARGV: window ms, now (epoch s), client IP, flush seconds.
_COUNT_REQUEST = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
redis.call('HINCRBY', KEYS[2], 'requests', 1)
redis.call('HSET', KEYS[2], 'lastUsedAt', ARGV[2], 'lastIp', ARGV[3])
local flush = redis.call('SET', KEYS[3], '1', 'EX', ARGV[4], 'NX')
if flush then flush = 1 else flush = 0 end
return {count, ttl, flush}
"""


@cache
def _count_request_script() -> Script:
    return redis_client().register_script(_COUNT_REQUEST)


def _key(api_key_id: int, what: str) -> str:
    # The braces keep one key's entries in one Redis Cluster slot, as the script needs.
    return f"wharf:api-key:{{{api_key_id}}}:{what}"


@dataclass(frozen=True)
class RateLimit:
    """Where a key stands in its current window, as the X-RateLimit-* headers tell it."""

    limit: int
    count: int
    reset_at: float  # epoch seconds when the window closes

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.count)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


@dataclass(frozen=True)
class Usage:
    requests: int
    enqueued_jobs: int
    last_used_at: dt.datetime | None
    last_ip: str | None


def count_request(api_key: ApiKey, ip: str) -> RateLimit:
    """Count one request of `api_key` (rate limit and usage); move its pending usage to the row when due."""
    now = time.time()
    count, ttl_ms, flush = _count_request_script()(
        keys=[_key(api_key.id, "window"), _key(api_key.id, "usage"), _key(api_key.id, "flushed")],
        args=[WINDOW_SECONDS * 1000, repr(now), ip, FLUSH_SECONDS],
    )
    if flush:
        flush_usage(api_key.id)
    return RateLimit(limit=api_key.rate_limit_per_minute, count=int(count), reset_at=now + int(ttl_ms) / 1000)


def count_enqueued_job(api_key_id: int) -> None:
    redis_client().hincrby(_key(api_key_id, "usage"), "enqueuedJobs", 1)


def _from_epoch(value: bytes | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(float(value), dt.UTC).replace(tzinfo=None) if value else None


def flush_usage(api_key_id: int) -> None:
    """Move the key's pending usage from Redis to its row (taken atomically, so no count is moved twice)."""
    pipe = redis_client().pipeline(transaction=True)
    pipe.hgetall(_key(api_key_id, "usage"))
    pipe.delete(_key(api_key_id, "usage"))
    pending, _ = pipe.execute()
    if not pending:
        return
    changes = {
        ApiKey.request_count: ApiKey.request_count + int(pending.get(b"requests", 0)),
        ApiKey.enqueued_job_count: ApiKey.enqueued_job_count + int(pending.get(b"enqueuedJobs", 0)),
    }
    if b"lastUsedAt" in pending:
        changes[ApiKey.last_used_at] = _from_epoch(pending[b"lastUsedAt"])
        changes[ApiKey.last_ip] = pending[b"lastIp"].decode()
    ApiKey.update(changes).where(ApiKey.id == api_key_id).execute()


def usage_of(rows: Iterable[ApiKey]) -> dict[int, Usage]:
    """Each key's usage: what its row holds plus what is still pending in Redis (one round trip)."""
    rows = list(rows)
    pipe = redis_client().pipeline(transaction=False)
    for row in rows:
        pipe.hgetall(_key(row.id, "usage"))
    usages = {}
    for row, pending in zip(rows, pipe.execute(), strict=True):
        last_used_at = _from_epoch(pending.get(b"lastUsedAt")) or row.last_used_at
        usages[row.id] = Usage(
            requests=row.request_count + int(pending.get(b"requests", 0)),
            enqueued_jobs=row.enqueued_job_count + int(pending.get(b"enqueuedJobs", 0)),
            last_used_at=last_used_at,
            last_ip=pending[b"lastIp"].decode() if b"lastIp" in pending else row.last_ip,
        )
    return usages


def forget_key(api_key_id: int) -> None:
    """Drop a revoked key's counters."""
    redis_client().delete(*(_key(api_key_id, what) for what in ("window", "usage", "flushed")))
