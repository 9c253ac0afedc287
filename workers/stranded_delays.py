"""Delayed messages that a live worker dropped, put back on their delay queue once well past their time.

Dramatiq's Redis consumer holds the delayed messages it fetched (retries, a campaign's paced ticks,
a send's backoff) in memory until they are due, while Redis keeps their ids in the worker's "acks"
set. After a connection error (Redis restarted, say) the consumer forgets them (`ConsumerThread.run`
empties its delay queue) but the ids stay in that set, and Dramatiq gives a worker's unacknowledged
messages back only once the worker is dead (its heartbeat timed out): a gateway that lives on would
hold a send's retry until it restarted (dramatiq#527). A healthy consumer moves a due message on to
its queue within a second; one still held `STRANDED_DELAY_SECONDS` past its time was dropped, so it
goes back to its delay queue, whence the next fetch moves it on at once. Were it not dropped after
all, it would run twice: every actor is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name

from wharf.settings import settings

logger = logging.getLogger(__name__)

# KEYS: a worker's acks set for a delay queue, the delay queue, its messages. ARGV: the time before which
# a message held there is stranded (ms). Returns how many went back to the queue. An id whose message is
# gone (withdrawn in the dashboard) is dropped from the set.
REQUEUE_STRANDED = """
local requeued = 0
for _, message_id in ipairs(redis.call("smembers", KEYS[1])) do
    local data = redis.call("hget", KEYS[3], message_id)
    if not data then
        redis.call("srem", KEYS[1], message_id)
    else
        local options = cjson.decode(data)["options"]
        local eta = options and options["eta"]
        if eta and tonumber(eta) < tonumber(ARGV[1]) then
            redis.call("srem", KEYS[1], message_id)
            redis.call("rpush", KEYS[2], message_id)
            requeued = requeued + 1
        end
    end
end
return requeued
"""


def requeue_stranded_delays(broker: RedisBroker, queue_names: Iterable[str], now_ms: int | None = None) -> int:
    """Put back the delayed messages of `queue_names` that a worker has held `STRANDED_DELAY_SECONDS` past
    their time; how many. Every worker Dramatiq knows of (its heartbeats), each queue: one round trip."""
    client: redis.Redis = broker.client
    before = (now_ms if now_ms is not None else current_millis()) - settings.stranded_delay_seconds * 1000
    script = client.register_script(REQUEUE_STRANDED)
    with client.pipeline(transaction=False) as pipeline:
        for worker_id in client.zrange(f"{broker.namespace}:__heartbeats__", 0, -1):
            for queue_name in queue_names:
                delayed = f"{broker.namespace}:{dq_name(queue_name)}"
                acks = f"{broker.namespace}:__acks__.{worker_id.decode()}.{dq_name(queue_name)}"
                script(keys=[acks, delayed, f"{delayed}.msgs"], args=[before], client=pipeline)
        requeued = sum(pipeline.execute())
    if requeued:
        logger.warning("put %d delayed messages that a worker had dropped back on their queues", requeued)
    return requeued
