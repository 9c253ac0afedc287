"""Prometheus metrics of every process, gathered by the API's `/metrics`.

prometheus_client's multiprocess mode: each process (API workers, Dramatiq workers, the gateway)
writes its samples to memory-mapped files in `<var dir>/metrics`, and `/metrics` adds them all up.
The mode is chosen by an environment variable read when prometheus_client is first imported, so
this module sets it and must be imported before anything else imports prometheus_client (the broker
module does, first thing). `make run` empties the directory before the processes start; counters of
processes that ended stay in it, so totals do not drop when a worker restarts.

Dramatiq's own metrics (`dramatiq_messages_total`, `dramatiq_message_duration_milliseconds`, ...) come
from its Prometheus middleware (`workers/observability.py`); the metrics below are Wharf's.
"""

from __future__ import annotations

import os

from wharf.settings import settings

METRICS_DIR = settings.var_dir / "metrics"
METRICS_DIR.mkdir(parents=True, exist_ok=True)
# Dramatiq's middleware reads its own variable when imported, and then points prometheus_client at it.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["dramatiq_prom_db"] = str(METRICS_DIR)

# isort: split
import prometheus_client  # noqa: E402
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess  # noqa: E402
from prometheus_client.values import ValueClass  # noqa: E402

if not getattr(ValueClass, "_multiprocess", False):
    raise RuntimeError(
        "prometheus_client was imported before wharf.metrics: metrics would stay in one process"
    )

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST

HTTP_REQUEST_SECONDS = Histogram(
    "wharf_http_request_duration_seconds",
    "API requests by route, method and status, and how long they took (its _count is the request count).",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
MESSAGES_SENT = Counter("wharf_messages_sent_total", "Outbound messages WhatsApp accepted from a session.")
MESSAGES_RECEIVED = Counter(
    "wharf_messages_received_total", "Inbound messages recorded (each WhatsApp id once)."
)
CAMPAIGN_SENDS = Counter(
    "wharf_campaign_sends_total", "Campaign recipients whose message was written and queued."
)
WEBHOOK_FAILURES = Counter(
    "wharf_webhook_failures_total",
    "Webhook delivery attempts that failed; `final` is true when the delivery was given up.",
    ["final"],
)


def latest_metrics() -> bytes:
    """Every process's samples, in Prometheus' text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(METRICS_DIR))
    return generate_latest(registry)
