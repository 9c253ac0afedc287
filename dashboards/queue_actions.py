"""What an operator does to messages: requeue or delete dead letters, run a delayed message now or delete it.

Each move is one Lua script, so it is atomic against workers and other operators: a message is
taken from where it is only if it is still there (`ZREM`/`HDEL` answer 1), and put on its queue in
the same step, so it is never lost half-way nor moved twice. A worker may hold a delayed message in
memory (see `dashboards/queues.py`); the script marks its id withdrawn and `WithdrawnDelays`
skips the worker's copy at its eta, so it runs once (now) or never (deleted).

A requeued dead letter starts afresh: no retries spent, and its age (for `AgeLimit`) from now.
Job rows follow: a requeued tracked job is queued again, a deleted delayed one failed.
"""

from __future__ import annotations

import time

import dramatiq
from dramatiq import Message
from dramatiq.errors import DecodeError

from dashboards.queues import QueueKeys
from db.base import utcnow
from db.jobs import Job
from workers.jobs import enqueued_marker, mark_enqueued
from workers.middleware import WITHDRAWN_SECONDS, withdrawn_key

REQUEUE_BATCH = 500

# KEYS: dead set, dead hash, queue list, queue hash. ARGV: id, data, id, data, ... (empty data: drop it).
# Returns the ids it moved.
_MOVE_DEAD = """
local moved = {}
for i = 1, #ARGV, 2 do
    if redis.call('zrem', KEYS[1], ARGV[i]) == 1 then
        redis.call('hdel', KEYS[2], ARGV[i])
        if ARGV[i + 1] ~= '' then
            redis.call('hset', KEYS[4], ARGV[i], ARGV[i + 1])
            redis.call('rpush', KEYS[3], ARGV[i])
        end
        table.insert(moved, ARGV[i])
    end
end
return moved
"""

# KEYS: delay list, delay hash, queue list, queue hash, withdrawn mark. ARGV: id, data (empty: delete), mark TTL.
_WITHDRAW_DELAYED = """
if redis.call('hdel', KEYS[2], ARGV[1]) == 0 then
    return 0
end
redis.call('lrem', KEYS[1], 0, ARGV[1])
redis.call('set', KEYS[5], 1, 'EX', ARGV[3])
if ARGV[2] ~= '' then
    redis.call('hset', KEYS[4], ARGV[1], ARGV[2])
    redis.call('rpush', KEYS[3], ARGV[1])
end
return 1
"""


def decoded(data: bytes) -> Message | None:
    try:
        return Message.decode(data)
    except DecodeError:
        return None


def for_queue(message: Message, queue: str, **changes) -> bytes:
    """The message as it goes on `queue` itself: no eta, so a worker runs it at once."""
    options = {key: value for key, value in message.options.items() if key != "eta"}
    options.update(changes.pop("options", {}))
    return Message(**{**message.asdict(), "queue_name": queue, "options": options, **changes}).encode()


class QueueActions:
    """The operator's actions on one queue of `broker`."""

    def __init__(self, broker: dramatiq.Broker, queue: str) -> None:
        self.client = broker.client
        self.keys = QueueKeys(broker.namespace, queue)
        self.queue = queue
        self._move_dead = self.client.register_script(_MOVE_DEAD)
        self._withdraw_delayed = self.client.register_script(_WITHDRAW_DELAYED)

    # --- dead letters
    def requeue_dead(self, redis_ids: list[str]) -> int:
        """Put these dead letters back on their queue; returns how many were still dead (and moved)."""
        if not redis_ids:
            return 0
        arguments, message_ids = [], {}
        for redis_id, data in zip(
            redis_ids, self.client.hmget(self.keys.dead_messages, redis_ids), strict=True
        ):
            message = decoded(data) if data else None
            if message is not None:
                message_ids[redis_id] = message.message_id
                data = for_queue(
                    message, self.queue, message_timestamp=int(time.time() * 1000), options={"retries": 0}
                )
            arguments += [redis_id, data or b""]
        moved = [raw.decode() for raw in self._move_dead(keys=self.dead_keys(), args=arguments)]
        self.requeued_jobs([message_ids[i] for i in moved if i in message_ids])
        return len(moved)

    def requeue_all_dead(self) -> int:
        moved = 0
        while batch := [raw.decode() for raw in self.client.zrange(self.keys.dead, 0, REQUEUE_BATCH - 1)]:
            moved += self.requeue_dead(batch)
        return moved

    def delete_dead(self, redis_ids: list[str]) -> int:
        if not redis_ids:
            return 0
        arguments = [value for redis_id in redis_ids for value in (redis_id, "")]
        return len(self._move_dead(keys=self.dead_keys(), args=arguments))

    def delete_all_dead(self) -> int:
        pipe = self.client.pipeline(transaction=True)
        pipe.zcard(self.keys.dead)
        pipe.delete(self.keys.dead, self.keys.dead_messages)
        return pipe.execute()[0]

    def dead_keys(self) -> list[str]:
        return [self.keys.dead, self.keys.dead_messages, self.keys.ready, self.keys.messages]

    def requeued_jobs(self, message_ids: list[str]) -> None:
        """Tracked jobs among them are queued again, with their enqueued marker (see `workers/jobs.py`)."""
        if not message_ids:
            return
        jobs = [job_id for (job_id,) in Job.select(Job.id).where(Job.id.in_(message_ids)).tuples()]
        if not jobs:
            return
        Job.update(status="queued", finished_at=None).where(Job.id.in_(jobs)).execute()
        pipe = self.client.pipeline(transaction=False)
        for job_id in jobs:
            mark_enqueued(pipe, enqueued_marker(job_id))
        pipe.execute()

    # --- delayed messages
    def run_delayed_now(self, redis_id: str) -> bool:
        """Put a delayed message on its queue now (at the end); False when it is no longer delayed."""
        data = self.client.hget(self.keys.delayed_messages, redis_id)
        message = decoded(data) if data else None
        if message is None:
            return False
        return self.withdraw(redis_id, for_queue(message, self.queue))

    def delete_delayed(self, redis_id: str) -> bool:
        data = self.client.hget(self.keys.delayed_messages, redis_id)
        if not self.withdraw(redis_id, b""):
            return False
        message = decoded(data) if data else None
        if message is not None:
            Job.update(status="failed", error="deleted in the queue dashboard", finished_at=utcnow()).where(
                Job.id == message.message_id, Job.status.in_(("queued", "running"))
            ).execute()
        return True

    def withdraw(self, redis_id: str, data: bytes) -> bool:
        keys = [
            self.keys.delayed,
            self.keys.delayed_messages,
            self.keys.ready,
            self.keys.messages,
            withdrawn_key(redis_id),
        ]
        return bool(self._withdraw_delayed(keys=keys, args=[redis_id, data, WITHDRAWN_SECONDS]))
