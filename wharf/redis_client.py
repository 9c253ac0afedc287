"""One Redis client per process for the API's own keys (revocations, rate limits, idempotency)."""

from functools import cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from wharf.settings import settings


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url, socket_timeout=5, health_check_interval=30)


def probe(url: str) -> redis.Redis:
    """For health checks: one try with a short timeout, so a Redis that is down is reported at once
    (the usual client retries a refused connection with backoff for seconds)."""
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))


@cache
def probe_client() -> redis.Redis:
    return probe(settings.redis_url)
