"""The one Dramatiq broker, shared by the API (which only sends) and the workers.

Imported first by `workers/__init__.py`, so `dramatiq workers` and the API agree on it.
Retries back off exponentially; messages older than a day are dropped to the dead letters
rather than run late; every actor gets a time limit unless it names its own.
"""

import logging
import time
from collections.abc import Sequence
from uuid import uuid4

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
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

logger = logging.getLogger(__name__)

ONE_DAY_MS = 24 * 3600 * 1000
# A killed worker's unacknowledged messages go back to their queue once it has missed its heartbeats
# for WORKER_HEARTBEAT_SECONDS; Dramatiq checks on one command in ten (its default, one in a thousand,
# can leave them stranded for many minutes on a quiet queue).
MAINTENANCE_CHANCE = 100_000  # out of a million commands
DELAYED_ENQUEUE_PATIENCE_SECONDS = 300


class PatientRedisBroker(RedisBroker):
    """A RedisBroker whose delayed enqueues wait out a Redis outage, as Dramatiq's worker waits to
    acknowledge a message.

    Only workers enqueue with a delay: Dramatiq's Retries (a failed attempt's retry) and paced actors
    (a campaign's next tick). Retries enqueues from an "after" hook, whose errors Dramatiq logs and
    drops, and the message is acknowledged once Redis is back: an attempt that failed while Redis was
    down (as every send does that needs it) would never be retried."""

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        if delay is None:
            return super().enqueue(message)
        deadline = time.monotonic() + DELAYED_ENQUEUE_PATIENCE_SECONDS
        while True:
            try:
                return super().enqueue(message, delay=delay)
            except (redis.ConnectionError, redis.TimeoutError) as error:
                if time.monotonic() > deadline:
                    raise
                logger.warning("waiting for Redis to enqueue %s (in %d ms): %s", message, delay, error)
                time.sleep(1)


def build_broker(redis_url: str) -> PatientRedisBroker:
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
    return PatientRedisBroker(url=redis_url, middleware=middleware,
                              heartbeat_timeout=settings.worker_heartbeat_seconds * 1000,
                              maintenance_chance=MAINTENANCE_CHANCE)


broker = build_broker(settings.redis_url)
dramatiq.set_broker(broker)


def enqueue_together(broker: RedisBroker, messages: Sequence[dramatiq.Message]) -> None:
    """`broker.enqueue(message)` for each of `messages`, in one round trip to Redis instead of one each.

    Dramatiq's RedisBroker sends one message per call. This runs its `dispatch` script with the arguments
    its `enqueue` gives it (hence two of the broker's private helpers; dramatiq is pinned below 3) on one
    pipeline, between the same middleware hooks. A script Redis no longer holds (NOSCRIPT, after a restart)
    is loaded and run again, as the script object does alone. Any other error is raised, like `enqueue`'s,
    once the pipeline has run: some of the messages may be in Redis then, which their callers' enqueued
    markers, set only after this returns, account for (`workers.jobs.sending_tracked`)."""
    enqueued = [message.copy(options={"redis_message_id": str(uuid4())}) for message in messages]
    for message in enqueued:
        broker.emit_before("enqueue", message, None)
    dispatch = broker.scripts["dispatch"]
    calls = [
        ["enqueue", current_millis(), message.queue_name, broker.broker_id, broker.heartbeat_timeout,
         broker.dead_message_ttl, broker._should_do_maintenance("enqueue"), broker._max_unpack_size(),
         message.options["redis_message_id"], message.encode()]
        for message in enqueued
    ]
    with broker.client.pipeline(transaction=False) as pipeline:
        for arguments in calls:
            pipeline.evalsha(dispatch.sha, 1, broker.namespace, *arguments)
        results = pipeline.execute(raise_on_error=False)
    for arguments, result in zip(calls, results, strict=True):
        if isinstance(result, redis.exceptions.NoScriptError):
            dispatch(keys=[broker.namespace], args=arguments)
        elif isinstance(result, Exception):
            raise result
    for message in enqueued:
        broker.emit_after("enqueue", message, None)
