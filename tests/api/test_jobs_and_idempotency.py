"""GET /api/jobs/:id, and Idempotency-Key on POSTs that enqueue."""

from __future__ import annotations

import dramatiq
import pytest

from api.endpoint import endpoint
from api.schemas import JobAccepted, Schema
from api.security import current_principal
from db.jobs import IdempotencyKey, Job
from workers.jobs import enqueue_job


@dramatiq.actor(queue_name="test-api-jobs", max_retries=0)
def shout(text: str) -> dict:
    return {"text": text.upper()}


class ShoutIn(Schema):
    text: str


@pytest.fixture(scope="module")
def jobs_app(database):
    """The real app plus one enqueueing route, as a resource module would declare it."""
    from api.app import create_app

    app = create_app()

    @endpoint(summary="shout", tags=["test"], body=ShoutIn, response=JobAccepted, status=202, enqueues=True)
    def start_shout(body: ShoutIn):
        return JobAccepted(job_id=enqueue_job(shout, body.text, company_id=current_principal().company_id).id)

    app.add_url_rule("/api/test-shout", "test_shout", start_shout, methods=["POST"])
    return app


def test_an_enqueued_job_is_reported_until_done(jobs_app, factories, broker, worker):
    client = jobs_app.test_client()
    headers = factories.auth_headers(jobs_app, factories.user())

    accepted = client.post("/api/test-shout", headers=headers, json={"text": "hi"})
    broker.join("test-api-jobs", timeout=10_000)
    worker.join()
    report = client.get(f"/api/jobs/{accepted.get_json()['jobId']}", headers=headers)

    assert accepted.status_code == 202
    assert report.status_code == 200
    body = report.get_json()
    assert (body["status"], body["progress"], body["result"], body["error"]) == ("done", 1.0, {"text": "HI"}, None)


def test_another_company_s_job_is_404(jobs_app, factories):
    client = jobs_app.test_client()
    owner_headers = factories.auth_headers(jobs_app, factories.user())
    job_id = client.post("/api/test-shout", headers=owner_headers, json={"text": "mine"}).get_json()["jobId"]

    response = client.get(f"/api/jobs/{job_id}", headers=factories.auth_headers(jobs_app, factories.user()))

    assert response.status_code == 404


def test_the_same_idempotency_key_replays_the_first_answer_and_enqueues_once(jobs_app, factories):
    client = jobs_app.test_client()
    headers = {**factories.auth_headers(jobs_app, factories.user()), "Idempotency-Key": "order-17"}

    first = client.post("/api/test-shout", headers=headers, json={"text": "once"})
    second = client.post("/api/test-shout", headers=headers, json={"text": "once"})

    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Job.select().count() == 1


def test_the_same_key_with_another_body_is_422(jobs_app, factories):
    client = jobs_app.test_client()
    headers = {**factories.auth_headers(jobs_app, factories.user()), "Idempotency-Key": "k1"}
    client.post("/api/test-shout", headers=headers, json={"text": "one"})

    response = client.post("/api/test-shout", headers=headers, json={"text": "two"})

    assert response.status_code == 422
    assert response.get_json()["error"] == "idempotency_key_reused"
    assert Job.select().count() == 1


def test_keys_are_per_company(jobs_app, factories):
    client = jobs_app.test_client()
    for user in (factories.user(), factories.user()):
        headers = {**factories.auth_headers(jobs_app, user), "Idempotency-Key": "shared"}
        assert client.post("/api/test-shout", headers=headers, json={"text": "x"}).status_code == 202

    assert Job.select().count() == 2


def test_a_rejected_request_does_not_burn_the_key(jobs_app, factories):
    client = jobs_app.test_client()
    headers = {**factories.auth_headers(jobs_app, factories.user()), "Idempotency-Key": "retry-me"}

    bad = client.post("/api/test-shout", headers=headers, json={"text": 5})
    good = client.post("/api/test-shout", headers=headers, json={"text": "5"})

    assert bad.status_code == 400 and good.status_code == 202
    assert IdempotencyKey.select().count() == 1 and Job.select().count() == 1
