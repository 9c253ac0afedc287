"""A delayed message that a live worker fetched and then forgot (a Redis connection error) goes back on its
delay queue once well past its time; one a worker may still be holding is left alone."""

from __future__ import annotations

import dramatiq
from dramatiq.common import dq_name

from wharf.settings import settings
from workers.stranded_delays import requeue_stranded_delays

QUEUE = "test-stranded"
GRACE_MS = settings.stranded_delay_seconds * 1000


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def later(tag: str) -> None:
    """Only ever fetched here, never run."""


def fetch_delayed(broker) -> dramatiq.MessageProxy:
    """What a worker's consumer does with a delayed message: fetch it (its id moves to the worker's acks)
    and hold it until its time."""
    consumer = broker.consume(dq_name(QUEUE), prefetch=10, timeout=100)
    for _ in range(50):
        if (message := next(consumer)) is not None:
            consumer.close()  # forgotten, as a connection error makes the consumer forget it
            return message
    raise AssertionError("the delayed message was not fetched")


def test_a_dropped_delayed_message_goes_back_only_once_well_past_its_time(broker):
    broker.enqueue(later.message("a"), delay=1000)
    held = fetch_delayed(broker)
    eta = held.options["eta"]

    assert requeue_stranded_delays(broker, [QUEUE], now_ms=eta + GRACE_MS - 1000) == 0  # a worker may still move it
    assert requeue_stranded_delays(broker, [QUEUE], now_ms=eta + GRACE_MS + 1) == 1

    again = fetch_delayed(broker)  # back on the delay queue: the next fetch moves it on
    assert (again.message_id, again.args) == (held.message_id, ("a",))
    assert requeue_stranded_delays(broker, [QUEUE], now_ms=eta + GRACE_MS + 1) == 1  # dropped again: back again


def test_the_id_of_a_withdrawn_delayed_message_is_cleared_and_nothing_goes_back(broker):
    broker.enqueue(later.message("b"), delay=1000)
    held = fetch_delayed(broker)
    broker.client.hdel(f"{broker.namespace}:{dq_name(QUEUE)}.msgs", held.options["redis_message_id"])

    assert requeue_stranded_delays(broker, [QUEUE], now_ms=held.options["eta"] + GRACE_MS + 1) == 0
    assert list(broker.client.scan_iter(match=f"{broker.namespace}:__acks__.*.{dq_name(QUEUE)}")) == []
    assert broker.client.llen(f"{broker.namespace}:{dq_name(QUEUE)}") == 0
