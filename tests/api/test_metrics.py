"""GET /metrics: the API's request metrics and what real worker processes recorded, in Prometheus' format."""

from __future__ import annotations

import dataclasses
import time

import api.resources.metrics
from db.messages import Message
from tests import processes
from tests.waiting import wait_for
from wharf.settings import settings
from workers.inbound import handle_inbound


def sample(client, name: str, **labels: str) -> float:
    """The value of one sample of /metrics (0 when it is not there yet)."""
    from prometheus_client.parser import text_string_to_metric_families  # after wharf.metrics chose its mode

    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for found in family.samples:
            if found.name == name and all(found.labels.get(key) == value for key, value in labels.items()):
                return found.value
    return 0.0


def test_requests_are_counted_by_route_method_and_status(client, factories, app):
    headers = factories.auth_headers(app, factories.user())
    count = "wharf_http_request_duration_seconds_count"
    before_ok = sample(client, count, method="GET", endpoint="/healthz", status="200")
    before_missing = sample(
        client, count, method="GET", endpoint="/api/tickets/<int:ticket_id>", status="404"
    )

    client.get("/healthz")
    client.get("/healthz")
    client.get("/api/tickets/424242", headers=headers)
    client.get("/api/tickets/434343", headers=headers)
    client.get("/no/such/page")

    assert sample(client, count, method="GET", endpoint="/healthz", status="200") == before_ok + 2
    assert (
        sample(client, count, method="GET", endpoint="/api/tickets/<int:ticket_id>", status="404")
        == before_missing + 2
    )
    assert sample(client, count, method="GET", endpoint="unmatched", status="404") >= 1
    assert sample(client, "wharf_http_request_duration_seconds_bucket", endpoint="/healthz", le="+Inf") >= 2


def test_a_worker_process_records_what_it_runs(client, factories, broker):
    company = factories.company()
    connection = factories.connection(company, status="connected")
    processed = {"name": "dramatiq_messages_total", "actor_name": "handle_inbound", "queue_name": "inbound"}
    before = sample(client, **processed)
    received_before = sample(client, "wharf_messages_received_total")
    workers = processes.workers(processes=1, threads=2).start()
    try:
        for n in range(3):
            handle_inbound.send(
                {
                    "kind": "message",
                    "connection_id": connection.id,
                    "wa_id": f"IN-{n}",
                    "chat": "5511987650000",
                    "sender": "5511987650000",
                    "body": f"hi {n}",
                    "timestamp": time.time(),
                }
            )

        assert wait_for(lambda: Message.select().where(Message.direction == "in").count() == 3, timeout=60)
        assert wait_for(lambda: sample(client, **processed) == before + 3, timeout=10)
    finally:
        workers.stop()
    assert sample(client, "wharf_messages_received_total") == received_before + 3
    duration = {"actor_name": "handle_inbound", "queue_name": "inbound"}
    assert sample(client, "dramatiq_message_duration_milliseconds_count", **duration) >= before + 3


def test_a_metrics_token_is_required_once_set(client, monkeypatch):
    monkeypatch.setattr(
        api.resources.metrics, "settings", dataclasses.replace(settings, metrics_token="s3cret")
    )

    refused = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer guess"})
    allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})

    assert refused.status_code == 401 and refused.get_json()["error"] == "unauthorized"
    assert wrong.status_code == 401
    assert allowed.status_code == 200 and b"wharf_http_request_duration_seconds" in allowed.data
