"""One Redis client per process for the API's own keys (revocations, rate limits, idempotency)."""

from functools import cache

import redis

from wharf.settings import settings


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url, socket_timeout=5, health_check_interval=30)
