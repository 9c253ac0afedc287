"""Worker middleware that makes the jobs observable: Prometheus metrics and log lines that name their job.

Metrics: Dramatiq's own Prometheus middleware records its counters and durations, but it also forks an
HTTP server per `dramatiq` command (port 9191), and a worker serves no HTTP here; `DramatiqMetrics`
keeps the metrics and drops the server, and the API's `/metrics` serves what every process recorded
(wharf/metrics.py). Its metrics are made when the broker is built, so any process with a Worker (the
`dramatiq` workers, the gateway, a test) records them, not only those Dramatiq's command boots.

Logs: a message sent while a request or a job is being handled carries that request's id, so the
API's request id follows the work through every actor it leads to; while a worker runs a message,
each log line has its job id (the message id) and that request id. `LogContext` must come first in
the broker's middleware: its "after" hooks then run last, once the others (Retries) have logged.
"""

from __future__ import annotations

# isort: split
from wharf.metrics import METRICS_DIR  # noqa: F401  (first: it sets prometheus_client's multiprocess mode)

# isort: split
import dramatiq
from dramatiq.middleware import Middleware
from dramatiq.middleware.prometheus import Prometheus

from wharf.logs import format_as_json_lines, job_id_var, request_id_var
from wharf.settings import settings

REQUEST_ID_OPTION = "wharf_request_id"


class DramatiqMetrics(Prometheus):
    def __init__(self) -> None:
        super().__init__()
        super().after_process_boot(None)  # makes the metrics, in this process

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        """The metrics exist already (see __init__)."""

    @property
    def forks(self) -> list:
        return []


class LogContext(Middleware):
    """Request ids into the messages sent, job and request ids into the log lines of the job run."""

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if settings.log_json:
            format_as_json_lines(settings.log_level)

    def before_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message, delay: int) -> None:
        request_id = request_id_var.get()
        if request_id and REQUEST_ID_OPTION not in message.options:
            message.options[REQUEST_ID_OPTION] = request_id

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        job_id_var.set(message.message_id)
        request_id_var.set(message.options.get(REQUEST_ID_OPTION))

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:
        job_id_var.set(None)
        request_id_var.set(None)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        self.after_process_message(broker, message)
