"""Worker middleware: a pooled database connection per message, and Job rows kept current."""

from __future__ import annotations

import logging
import traceback

import dramatiq
from dramatiq.middleware import Middleware

from db.base import connect_database, database, utcnow
from db.jobs import Job

logger = logging.getLogger(__name__)

TRACKED_OPTION = "wharf_job"


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
    attempt is counted by the write that ends it.

    The Job row keeps what an actor returns, so Dramatiq's warning that a return value is
    discarded without its Results middleware is wrong here, and silenced (`DiscardedResultFilter`).
    """

    actor_options = {"job_marks_running"}

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
        fields = {} if self.marks_running(broker, message) else {"attempts": Job.attempts + 1}
        if exception is None:
            fields.update(status="done", progress=1.0, result=result, error=None, finished_at=utcnow())
        else:
            error = "".join(traceback.format_exception_only(type(exception), exception)).strip()
            if message.failed:
                fields.update(status="failed", error=error, finished_at=utcnow())
            else:  # Retries will send it again: it is queued, with the last error for the operator
                fields.update(status="queued", error=error)
        Job.update(**fields).where(Job.id == message.message_id).execute()

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        if message.options.get(TRACKED_OPTION):
            Job.update(status="failed", error="skipped: too old to run", finished_at=utcnow()).where(
                Job.id == message.message_id
            ).execute()
