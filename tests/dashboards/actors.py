"""An actor for the dashboard's tests: it counts its runs in Redis, and fails when asked to."""

from __future__ import annotations

import dramatiq

from wharf.redis_client import redis_client
from workers import broker  # noqa: F401  (Wharf's broker first, so the actor binds to it)

TEST_QUEUE = "dash-test"


@dramatiq.actor(queue_name=TEST_QUEUE, max_retries=0)
def count_run(key: str, fail: bool = False) -> None:
    redis_client().incr(key)
    if fail:
        raise ValueError("asked to fail")


def runs(key: str) -> int:
    return int(redis_client().get(key) or 0)
