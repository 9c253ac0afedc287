"""Logging for every process: JSON lines with the request id (and in a worker, the job id), when LOG_JSON is on.

The workers carry a request's id into the jobs it enqueued: see workers/observability.py.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid

from flask import Flask, g, request

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            line["requestId"] = request_id
        job_id = job_id_var.get()
        if job_id:
            line["jobId"] = job_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str, as_json: bool) -> None:
    root = logging.getLogger()
    if getattr(root, "_wharf_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root._wharf_configured = True  # type: ignore[attr-defined]


def format_as_json_lines(level: str) -> None:
    """JSON lines from the handlers this process has already (those Dramatiq's command sets up), at `level`."""
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(level)


def install_request_ids(app: Flask) -> None:
    """Every request gets an id (the client's X-Request-Id, or a new one), logged and echoed."""

    @app.before_request
    def assign_request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        request_id_var.set(g.request_id)

    @app.after_request
    def echo_request_id(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def forget_request_id(_error: BaseException | None) -> None:
        request_id_var.set(None)  # the thread serves other requests, or sends work outside any
