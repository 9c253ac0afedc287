"""The one Dramatiq broker, shared by the API (which only sends) and the workers.

Imported first by `workers/__init__.py`, so `dramatiq workers` and the API agree on it.
Retries back off exponentially; messages older than a day are dropped to the dead letters
rather than run late; every actor gets a time limit unless it names its own.
"""

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from wharf.settings import settings
from workers.middleware import DatabaseConnection, JobTracking, QueueStats, WithdrawnDelays
from workers.observability import DramatiqMetrics, LogContext

ONE_DAY_MS = 24 * 3600 * 1000
# A killed worker's unacknowledged messages go back to their queue once it has missed its
# heartbeats for this long; Dramatiq checks on one command in ten (its default, one in a
# thousand, can leave them stranded for many minutes on a quiet queue).
HEARTBEAT_TIMEOUT_MS = 15_000
MAINTENANCE_CHANCE = 100_000  # out of a million commands


def build_broker(redis_url: str) -> RedisBroker:
    # Dramatiq runs "before" hooks in this order and "after" hooks in reverse: the connection is
    # lent first and returned last, and JobTracking sees Retries' verdict on a failure. A delayed
    # message withdrawn in the dashboard is skipped before it takes a connection. LogContext is first
    # so that every other hook logs with the job's ids.
    middleware = [
        LogContext(),
        WithdrawnDelays(),
        DatabaseConnection(),
        JobTracking(),
        AgeLimit(max_age=ONE_DAY_MS),
        TimeLimit(time_limit=10 * 60 * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=8, min_backoff=1000, max_backoff=5 * 60 * 1000),
        CurrentMessage(),
        QueueStats(),
        DramatiqMetrics(),
    ]
    return RedisBroker(url=redis_url, middleware=middleware, heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
                       maintenance_chance=MAINTENANCE_CHANCE)


broker = build_broker(settings.redis_url)
dramatiq.set_broker(broker)
