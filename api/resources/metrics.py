"""`/metrics`: Prometheus' view of every process (wharf/metrics.py), and the API's request metrics.

Each request is observed once it has its answer, by route (the rule, `/api/tickets/<int:ticket_id>`,
so ids do not multiply the series), method and status. With `METRICS_TOKEN` set, a scraper sends
`Authorization: Bearer <token>`; without it `/metrics` is open, as Prometheus targets usually are, and
the network must keep it private.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, g, request

from api.errors import ApiError
from wharf.metrics import CONTENT_TYPE, HTTP_REQUEST_SECONDS, latest_metrics
from wharf.settings import settings

blueprint = Blueprint("metrics", __name__)


@blueprint.before_app_request
def start_timer() -> None:
    g.request_started = time.perf_counter()


@blueprint.after_app_request
def observe_request(response: Response) -> Response:
    started = g.pop("request_started", None)
    if started is not None:
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        HTTP_REQUEST_SECONDS.labels(request.method, endpoint, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


def authorised(header: str) -> bool:
    return not settings.metrics_token or hmac.compare_digest(header, f"Bearer {settings.metrics_token}")


@blueprint.get("/metrics")
def metrics():
    if not authorised(request.headers.get("Authorization", "")):
        raise ApiError(
            401,
            "send the METRICS_TOKEN as a Bearer token",
            "unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return Response(latest_metrics(), content_type=CONTENT_TYPE)
