"""A connection's send queue, consumed in batches, in order, by the gateway holding its session.

Dramatiq's worker hands each message to a thread of its own; a send is a few database and Redis
round trips, and one at a time they capped a connection near 200 messages a second. Here
Dramatiq's consumer threads still fetch the messages (and release the delayed ones, the retries,
when due) and acknowledge them, but one thread takes what is waiting, up to `BATCH_SIZE`, runs each
message through the broker's middleware as Dramatiq's worker would (age limit, withdrawn delays,
retries, job tracking, stats), sends the batch with `send_messages` (one read and one write for all
of it) and acknowledges each message once its outcome is recorded. A crash before the acknowledgement
redelivers the message; `send_messages` skips what is already sent, and WhatsApp drops an id it has
seen. One thread per connection also keeps a conversation's messages in the order they were queued.
The other work of a session that comes by this queue (read receipts, deletions) runs after the sends, one by one.
"""

from __future__ import annotations

import logging
import queue
import threading

import dramatiq
from dramatiq.common import dq_name
from dramatiq.middleware import SkipMessage
from dramatiq.worker import ConsumerThread

from workers.messages import SEND_ERRORS, PermanentSendError, gateway_queue, send_message, send_messages
from workers.middleware import JobTracking

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
DELAY_PREFETCH = 10_000  # retries waiting for their time, held in memory as Dramatiq's worker does


class SendConsumer:
    def __init__(self, broker: dramatiq.Broker, connection_id: int, idle_timeout_ms: int = 1000) -> None:
        self.broker = broker
        self.queue_name = gateway_queue(connection_id)
        self.idle_seconds = idle_timeout_ms / 1000
        self.ready: queue.PriorityQueue = queue.PriorityQueue()  # fetched, in queue order
        self.fetchers = {
            name: ConsumerThread(broker=broker, queue_name=name, prefetch=prefetch, work_queue=self.ready,
                                 worker_timeout=idle_timeout_ms)
            for name, prefetch in ((self.queue_name, 2 * BATCH_SIZE), (dq_name(self.queue_name), DELAY_PREFETCH))
        }
        self.job_tracking = next(m for m in broker.middleware if isinstance(m, JobTracking))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f"send-{self.queue_name}", daemon=True)

    def start(self) -> SendConsumer:
        for fetcher in self.fetchers.values():
            fetcher.start()
        self.thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand, then give back to Redis what was fetched and not run."""
        self.stopping.set()
        self.thread.join(timeout)
        for fetcher in self.fetchers.values():
            fetcher.stop()
        for fetcher in self.fetchers.values():
            fetcher.join(timeout)
        in_hand = self.take(wait=False, limit=None)
        for name, fetcher in self.fetchers.items():
            if fetcher.consumer is None:
                continue
            # Fetched but not yet handed over: Dramatiq's Redis consumer keeps them in its cache.
            cached = [dramatiq.Message.decode(data) for data in getattr(fetcher.consumer, "message_cache", ())]
            fetcher.requeue_messages([message for message in in_hand if message.queue_name == name] + cached)
            fetcher.close()

    def run(self) -> None:
        while not self.stopping.is_set():
            batch = self.take(wait=True, limit=BATCH_SIZE)
            if batch:
                try:
                    self.process(batch)
                except Exception:  # a bug here must not end the connection's sends
                    logger.exception("a batch of sends on %s failed", self.queue_name)

    def take(self, wait: bool, limit: int | None) -> list[dramatiq.MessageProxy]:
        batch = []
        try:
            if wait:
                batch.append(self.ready.get(timeout=self.idle_seconds).message)
            while limit is None or len(batch) < limit:
                batch.append(self.ready.get_nowait().message)
        except queue.Empty:
            pass
        return batch

    def process(self, batch: list[dramatiq.MessageProxy]) -> None:
        """What Dramatiq's worker thread does for one message (`WorkerThread.process_message`), for many:
        each message is acknowledged (or, failed for good, dead-lettered) whatever happened."""
        try:
            started, outcomes = [], {}
            for message in batch:
                try:
                    self.broker.emit_before("process_message", message)
                    started.append(message)
                except SkipMessage:
                    logger.warning("message %s was skipped", message)
                    self.broker.emit_after("skip_message", message)
                except Exception as error:  # no database connection, say: a retry, as for any failure
                    started.append(message)
                    outcomes[message.message_id] = error
            runnable = [m for m in started if not m.failed and m.message_id not in outcomes]
            outcomes.update(self.run_batch(runnable))
            with self.job_tracking.batched():
                for message in started:
                    try:
                        self.finish(message, outcomes.get(message.message_id))
                    except Exception:  # a middleware failed on this one: the others still get their verdicts
                        logger.exception("message %s: its outcome was not recorded", message)
        finally:
            for message in batch:
                self.fetchers[message.queue_name].post_process_message(message)

    def run_batch(self, messages: list[dramatiq.MessageProxy]) -> dict[str, object]:
        """The sends in one `send_messages`, then anything else on the queue (read receipts, deletions) one by
        one: a deletion queued after its message comes after it."""
        sends = [message for message in messages if message.actor_name == send_message.actor_name]
        outcomes: dict[str, object] = {}
        if sends:
            try:
                results = send_messages([message.args[0] for message in sends])
            except Exception as error:  # the batch's own reads or writes failed: each message retries
                results = [error] * len(sends)
            outcomes = {message.message_id: result for message, result in zip(sends, results, strict=True)}
        return outcomes | {message.message_id: self.run_alone(message)
                           for message in messages if message.actor_name != send_message.actor_name}

    def run_alone(self, message: dramatiq.MessageProxy) -> object:
        try:
            return self.broker.get_actor(message.actor_name)(*message.args, **message.kwargs)
        except Exception as error:
            return error

    def finish(self, message: dramatiq.MessageProxy, outcome: object) -> None:
        if not isinstance(outcome, Exception):
            self.broker.emit_after("process_message", message, result=outcome)
            return
        message.stuff_exception(outcome)
        if isinstance(outcome, PermanentSendError):
            logger.info("message %s failed for good: %s", message, outcome)
        else:
            logger.warning("message %s failed: %s", message, outcome,
                           exc_info=None if isinstance(outcome, SEND_ERRORS) else outcome)
        try:
            raise outcome
        except Exception as error:  # Retries keeps the traceback of the exception being handled
            self.broker.emit_after("process_message", message, exception=error)
