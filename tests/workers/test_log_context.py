"""The API's request id travels with the work it enqueued: every log line of a job has its job id and that
request id, and the jobs a job enqueues carry the request id on."""

from __future__ import annotations

import json
import time

import dramatiq

from tests import processes
from tests.waiting import wait_for
from wharf.logs import request_id_var
from workers.inbound import handle_inbound
from workers.messages import gateway_queue
from workers.observability import REQUEST_ID_OPTION


def json_lines(path) -> list[dict]:
    """The JSON log lines in the file (Dramatiq's supervising process writes a few plain ones too)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_a_worker_logs_each_line_of_a_job_with_its_job_and_request_ids(
    client, factories, app, broker, monkeypatch, tmp_path
):
    headers = {**factories.auth_headers(app, factories.user()), "X-Request-Id": "req-import-42"}
    monkeypatch.setenv("LOG_JSON", "true")
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    log = tmp_path / "workers.log"
    workers = processes.workers(processes=1, threads=2, log_path=log).start()
    try:
        response = client.post(
            "/api/contacts/import",
            headers=headers,
            content_type="text/csv",
            data=b"name,phone\nAna,+5511987654321\n",
        )
        assert response.status_code == 202, response.get_json()
        job_id = response.get_json()["jobId"]

        assert wait_for(
            lambda: any(
                "created" in line["message"] for line in json_lines(log) if line.get("jobId") == job_id
            ),
            timeout=60,
        )
    finally:
        workers.stop()
    lines = json_lines(log)
    of_the_job = [line for line in lines if line.get("jobId") == job_id]
    assert of_the_job and all(line["requestId"] == "req-import-42" for line in of_the_job)
    assert any(
        line["message"] == "Worker process is ready for action." and "jobId" not in line for line in lines
    )


def test_jobs_enqueued_by_a_job_carry_the_request_id_on(factories, broker, worker, redis_client):
    connection = factories.connection(
        factories.company(), status="connected", greeting_message="Olá! Já respondemos."
    )
    token = request_id_var.set("req-from-the-api")
    try:
        handle_inbound.send(
            {
                "kind": "message",
                "connection_id": connection.id,
                "wa_id": "IN-1",
                "chat": "5511987650000",
                "sender": "5511987650000",
                "body": "oi",
                "timestamp": time.time(),
            }
        )
    finally:
        request_id_var.reset(token)
    on_session = f"dramatiq:{gateway_queue(connection.id)}.msgs"

    assert wait_for(lambda: redis_client.hlen(on_session) == 2, timeout=20)
    queued = [dramatiq.Message.decode(data) for data in redis_client.hvals(on_session)]
    assert sorted(m.actor_name for m in queued) == ["check_contact_details", "send_message"]  # the greeting, a check
    assert all(m.options[REQUEST_ID_OPTION] == "req-from-the-api" for m in queued)
