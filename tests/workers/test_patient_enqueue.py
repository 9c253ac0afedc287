"""A delayed enqueue (a retry, a paced tick) made while Redis is down waits for Redis rather than being
lost; any other enqueue fails at once, as the caller (an API request) must know."""

from __future__ import annotations

import os
import threading
import time

import dramatiq
import pytest
import redis
from dramatiq.common import dq_name

from tests.conftest import answers
from tests.waiting import wait_for
from workers.broker import build_broker

QUEUE = "test-patient"


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def retried(tag: str) -> None:
    """Only ever enqueued here, never run."""


def test_a_delayed_enqueue_waits_for_redis_to_come_back(own_redis):
    client, redis_program = own_redis
    broker = build_broker(os.environ["REDIS_URL"])  # own_redis's
    redis_program.kill_hard()
    enqueued: list[dramatiq.Message] = []
    retry = threading.Thread(target=lambda: enqueued.append(broker.enqueue(retried.message("a"), delay=1000)))
    retry.start()

    time.sleep(2)
    assert retry.is_alive() and not enqueued  # still waiting
    with pytest.raises(redis.ConnectionError):
        broker.enqueue(retried.message("b"))  # no delay: not a retry, fails at once

    redis_program.start()
    assert wait_for(lambda: answers(client), timeout=10)
    retry.join(timeout=10)
    assert len(enqueued) == 1
    assert client.hexists(f"dramatiq:{dq_name(QUEUE)}.msgs", enqueued[0].options["redis_message_id"])
    assert client.lrange(f"dramatiq:{dq_name(QUEUE)}", 0, -1) == [enqueued[0].options["redis_message_id"].encode()]
