"""Worker middleware: a pooled database connection per message, Job rows kept current, and what the
queue dashboard shows (per-minute counts, the workers, delayed messages an operator withdrew)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import traceback
from collections import Counter

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage
from peewee import Case

from db.base import connect_database, database, utcnow
from db.jobs import Job

logger = logging.getLogger(__name__)

TRACKED_OPTION = "wharf_job"
DELAY_ID_OPTION = "wharf_delay_id"  # the Redis id a message had in its delay queue
WITHDRAWN_OPTION = "wharf_withdrawn"  # set on a worker's copy of a delayed message that was withdrawn
WITHDRAWN_PREFIX = "wharf:delay-withdrawn:"  # + the Redis id of a delayed message run now or deleted
WITHDRAWN_SECONDS = 8 * 24 * 3600  # longer than a message may be delayed (Dramatiq refuses over 7 days)
STATS_PREFIX = "wharf:queue-stats:"  # + the minute (Unix seconds // 60): a hash of "<queue>:processed|failed"
STATS_SECONDS = 2 * 3600
WORKERS_KEY = "wharf:workers"  # a hash: Dramatiq's broker id of a worker process -> what it is (JSON)


class DiscardedResultFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "returned a value that is not None" not in record.getMessage()


logging.getLogger("dramatiq.worker.WorkerThread").addFilter(DiscardedResultFilter())


class DatabaseConnection(Middleware):
    """Binds the database once per worker process and lends each message a pooled connection.

    When the pool is exhausted `connect()` waits (DATABASE_POOL_WAIT_SECONDS); if it still
    fails the message raises, and Retries sends it again: an exhausted pool loses nothing.
    """

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if database.obj is None:
            from wharf.settings import settings

            connect_database(settings.database_url, settings.database_pool_size, settings.database_pool_wait_seconds)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        database.connect(reuse_if_open=True)

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        if not database.is_closed():
            database.close()

    after_skip_message = after_process_message


class JobTracking(Middleware):
    """Moves the Job row of a tracked message through running, done and failed.

    An actor that finishes in milliseconds (a send) declares `job_marks_running=False`: its
    row goes from queued straight to done, one write (and one commit) fewer per message; the
    attempt is counted by the write that ends it. A consumer that runs messages in batches (the
    gateway's sends) ends their jobs inside `batched()`: those that went well are marked done
    together, in one statement.

    The Job row keeps what an actor returns, so Dramatiq's warning that a return value is
    discarded without its Results middleware is wrong here, and silenced (`DiscardedResultFilter`).
    """

    actor_options = {"job_marks_running"}

    def __init__(self) -> None:
        self.batch = threading.local()

    @staticmethod
    def marks_running(broker: dramatiq.Broker, message: dramatiq.Message) -> bool:
        return broker.get_actor(message.actor_name).options.get("job_marks_running", True)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        if message.options.get(TRACKED_OPTION) and self.marks_running(broker, message):
            Job.update(status="running", started_at=utcnow(), attempts=Job.attempts + 1).where(
                Job.id == message.message_id, Job.status.in_(("queued", "running"))
            ).execute()

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        if not message.options.get(TRACKED_OPTION):
            return
        counts_attempt = not self.marks_running(broker, message)
        done = getattr(self.batch, "done", None)
        if exception is None and done is not None:
            done[message.message_id] = (result, counts_attempt)
            return
        fields = {"attempts": Job.attempts + 1} if counts_attempt else {}
        if exception is None:
            fields.update(status="done", progress=1.0, result=result, error=None, finished_at=utcnow())
        else:
            error = "".join(traceback.format_exception_only(type(exception), exception)).strip()
            if message.failed:
                fields.update(status="failed", error=error, finished_at=utcnow())
            else:  # Retries will send it again: it is queued, with the last error for the operator
                fields.update(status="queued", error=error)
        Job.update(**fields).where(Job.id == message.message_id).execute()

    @contextlib.contextmanager
    def batched(self):
        """Collect the jobs that end well in this block (this thread's), and mark them done at its end."""
        self.batch.done = {}
        try:
            yield
            done, self.batch.done = self.batch.done, None
            if done:
                with database.connection_context():
                    mark_jobs_done(done)
        finally:
            self.batch.done = None

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        if message.options.get(TRACKED_OPTION) and not message.options.get(WITHDRAWN_OPTION):
            Job.update(status="failed", error="skipped: too old to run", finished_at=utcnow()).where(
                Job.id == message.message_id
            ).execute()


def mark_jobs_done(done: dict[str, tuple[object, bool]]) -> None:
    """Jobs done, each with its result: one statement per kind (counting the attempt or not)."""
    for counts_attempt in (True, False):
        results = [(job_id, result) for job_id, (result, counts) in done.items() if counts == counts_attempt]
        if not results:
            continue
        fields = {Job.status: "done", Job.progress: 1.0, Job.error: None, Job.finished_at: utcnow(),
                  Job.result: Case(Job.id, [(job_id, Job.result.db_value(result)) for job_id, result in results])}
        if counts_attempt:
            fields[Job.attempts] = Job.attempts + 1
        Job.update(fields).where(Job.id.in_([job_id for job_id, _ in results])).execute()


def withdrawn_key(redis_message_id: str) -> str:
    return WITHDRAWN_PREFIX + redis_message_id


class WithdrawnDelays(Middleware):
    """Drops a worker's copy of a delayed message that an operator ran now or deleted in the dashboard.

    A worker fetches delayed messages into its memory and enqueues each on its queue at its eta,
    out of the dashboard's reach. So the worker notes the delay-queue id of each one it holds,
    and before running a message that carries such an id it looks for the mark the dashboard
    leaves on the ids it withdrew (`dashboards/queue_actions.py`). Only messages that were
    delayed (retries included) cost that one Redis lookup.
    """

    def before_delay_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        message.options[DELAY_ID_OPTION] = message.options["redis_message_id"]

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        delay_id = message.options.pop(DELAY_ID_OPTION, None)
        if delay_id and broker.client.exists(withdrawn_key(delay_id)):
            message.options[WITHDRAWN_OPTION] = True
            raise SkipMessage("withdrawn in the queue dashboard")


def stats_key(minute: int) -> str:
    return f"{STATS_PREFIX}{minute}"


class QueueStats(Middleware):
    """Per-minute counts of processed and failed messages per queue, and this worker's entry in
    `WORKERS_KEY` beside Dramatiq's own heartbeat, for the queue dashboard.

    Counts gather in memory and a thread writes them every `FLUSH_SECONDS`, so a message costs
    no Redis command; a process killed hard loses at most those seconds of counts.
    """

    FLUSH_SECONDS = 2.0

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, str]] = Counter()
        self.lock = threading.Lock()
        self.workers = 0  # Workers of this process on this broker (tests run a gateway's and a worker)
        self.stopping = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        queues = worker.consumer_whitelist or broker.get_declared_queues()
        about = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "threads": worker.worker_threads,
            "queues": sorted(queues),
            "startedAt": int(time.time()),
        }
        broker.client.hset(WORKERS_KEY, broker.broker_id, json.dumps(about))
        with self.lock:
            self.workers += 1
            if self.workers == 1:
                self.stopping = threading.Event()
                threading.Thread(
                    target=self.flush_every, args=(broker, self.stopping), daemon=True, name="queue-stats"
                ).start()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        with self.lock:
            self.workers -= 1
            last = self.workers == 0
        if last:
            self.stopping.set()
            self.flush(broker)
            broker.client.hdel(WORKERS_KEY, broker.broker_id)

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        minute = int(time.time()) // 60
        with self.lock:
            self.counts[minute, f"{message.queue_name}:processed"] += 1
            if exception is not None:
                self.counts[minute, f"{message.queue_name}:failed"] += 1

    def flush_every(self, broker: dramatiq.Broker, stopping: threading.Event) -> None:
        while not stopping.wait(self.FLUSH_SECONDS):
            try:
                self.flush(broker)
            except Exception:  # Redis away for a moment: the counts wait for the next flush
                logger.warning("could not write the queue stats", exc_info=True)

    def flush(self, broker: dramatiq.Broker) -> None:
        with self.lock:
            counts, self.counts = self.counts, Counter()
        if not counts:
            return
        pipe = broker.client.pipeline(transaction=False)
        for (minute, field), count in counts.items():
            pipe.hincrby(stats_key(minute), field, count)
            pipe.expire(stats_key(minute), STATS_SECONDS)
        try:
            pipe.execute()
        except Exception:
            with self.lock:
                self.counts.update(counts)
            raise
