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

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis

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
        local eta = cjson.decode(data)["options"]["eta"]
        if eta and tonumber(eta) < tonumber(ARGV[1]) then
            redis.call("srem", KEYS[1], message_id)
            redis.call("rpush", KEYS[2], message_id)
            requeued = requeued + 1
        end
    end
end
return requeued
"""


def requeue_stranded_delays(broker: RedisBroker, now_ms: int | None = None) -> int:
    """Put back the delayed messages held in a worker's acks `STRANDED_DELAY_SECONDS` past their time; how many."""
    client: redis.Redis = broker.client
    before = (now_ms if now_ms is not None else current_millis()) - settings.stranded_delay_seconds * 1000
    prefix = f"{broker.namespace}:__acks__."
    script = client.register_script(REQUEUE_STRANDED)
    requeued = 0
    for key in client.scan_iter(match=f"{prefix}*.DQ", count=1000):
        _worker_id, queue_name = key.decode()[len(prefix):].split(".", 1)  # worker ids are UUIDs: no dots
        queue = f"{broker.namespace}:{queue_name}"
        requeued += script(keys=[key, queue, f"{queue}.msgs"], args=[before])
    if requeued:
        logger.warning("put %d delayed messages that a worker had dropped back on their queues", requeued)
    return requeued
