"""GET /api/jobs/:id, and Idempotency-Key on POSTs that enqueue."""

from __future__ import annotations

import threading

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


slow_shout_entered = threading.Event()  # the first slow shout is running
slow_shout_released = threading.Event()  # it may answer


class ShoutIn(Schema):
    text: str


@pytest.fixture(scope="module")
def jobs_app(database):
    """The real app plus one enqueueing route, as a resource module would declare it."""
    from api.app import create_app

    app = create_app()

    @endpoint(summary="shout", tags=["test"], body=ShoutIn, response=JobAccepted, status=202, enqueues=True,
              scope="messages:send")
    def start_shout(body: ShoutIn):
        principal = current_principal()
        user_id = principal.user.id if principal.user else None
        return JobAccepted(job_id=enqueue_job(shout, body.text, company_id=principal.company_id, user_id=user_id).id)

    @endpoint(summary="slow shout", tags=["test"], body=ShoutIn, response=JobAccepted, status=202, enqueues=True)
    def start_slow_shout(body: ShoutIn):
        if not slow_shout_entered.is_set():  # the first one waits; those after it answer at once
            slow_shout_entered.set()
            slow_shout_released.wait(10)
        return JobAccepted(job_id=enqueue_job(shout, body.text, company_id=current_principal().company_id).id)

    app.add_url_rule("/api/test-shout", "test_shout", start_shout, methods=["POST"])
    app.add_url_rule("/api/test-slow-shout", "test_slow_shout", start_slow_shout, methods=["POST"])
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


def test_an_agent_sees_the_jobs_they_started_and_admins_see_the_companys(jobs_app, factories):
    client = jobs_app.test_client()
    admin = factories.user(role="admin")
    agent, other_agent = (factories.user(admin.company, role="agent") for _ in range(2))
    headers = {user.id: factories.auth_headers(jobs_app, user) for user in (admin, agent, other_agent)}
    started = {user.id: client.post("/api/test-shout", headers=headers[user.id], json={"text": "x"}).get_json()["jobId"]
               for user in (admin, agent, other_agent)}

    def listed(user) -> set[str]:
        return {job["id"] for job in client.get("/api/jobs", headers=headers[user.id]).get_json()["items"]}

    assert listed(agent) == {started[agent.id]}
    assert listed(admin) == set(started.values())
    assert client.get(f"/api/jobs/{started[agent.id]}", headers=headers[agent.id]).status_code == 200
    assert client.get(f"/api/jobs/{started[other_agent.id]}", headers=headers[agent.id]).status_code == 404
    assert client.get(f"/api/jobs/{started[agent.id]}", headers=headers[admin.id]).status_code == 200


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


def test_another_user_of_the_company_with_the_same_key_gets_their_own_answer(jobs_app, factories):
    client = jobs_app.test_client()
    admin = factories.user(role="admin")
    agent = factories.user(admin.company, role="agent")

    answers = [client.post("/api/test-shout", json={"text": "x"},
                           headers={**factories.auth_headers(jobs_app, user), "Idempotency-Key": "shared"})
               for user in (admin, agent)]

    assert [answer.status_code for answer in answers] == [202, 202]
    assert answers[0].get_json()["jobId"] != answers[1].get_json()["jobId"]
    assert "Idempotent-Replayed" not in answers[1].headers
    assert Job.select().count() == 2 and IdempotencyKey.select().count() == 2


def test_an_api_key_s_keys_are_its_own_apart_from_users_and_other_keys(jobs_app, factories):
    client = jobs_app.test_client()
    admin = factories.user(role="admin")
    callers = [factories.auth_headers(jobs_app, admin),
               *({"X-API-Key": factories.api_key(admin.company, ["messages:send"])} for _ in range(2))]

    first = [client.post("/api/test-shout", json={"text": "x"}, headers={**caller, "Idempotency-Key": "k"})
             for caller in callers]
    again = [client.post("/api/test-shout", json={"text": "x"}, headers={**caller, "Idempotency-Key": "k"})
             for caller in callers]

    assert [answer.status_code for answer in first + again] == [202] * 6
    assert len({answer.get_json()["jobId"] for answer in first}) == 3
    assert [answer.get_json() for answer in again] == [answer.get_json() for answer in first]
    assert all(answer.headers["Idempotent-Replayed"] == "true" for answer in again)
    assert Job.select().count() == 3


def test_a_key_in_flight_is_a_409_to_its_caller_only(jobs_app, factories):
    admin = factories.user(role="admin")
    admin_headers = {**factories.auth_headers(jobs_app, admin), "Idempotency-Key": "slow"}
    agent_headers = {**factories.auth_headers(jobs_app, factories.user(admin.company, role="agent")),
                     "Idempotency-Key": "slow"}
    slow_shout_entered.clear()
    slow_shout_released.clear()
    answers = {}
    first = threading.Thread(target=lambda: answers.setdefault("first", jobs_app.test_client().post(
        "/api/test-slow-shout", headers=admin_headers, json={"text": "x"})))
    first.start()
    assert slow_shout_entered.wait(10)

    client = jobs_app.test_client()
    try:
        meanwhile = client.post("/api/test-slow-shout", headers=admin_headers, json={"text": "x"})
        another_caller = client.post("/api/test-slow-shout", headers=agent_headers, json={"text": "x"})
    finally:
        slow_shout_released.set()
        first.join(10)
    after = client.post("/api/test-slow-shout", headers=admin_headers, json={"text": "x"})

    assert meanwhile.status_code == 409 and meanwhile.get_json()["error"] == "conflict"
    assert another_caller.status_code == 202
    assert answers["first"].status_code == 202
    assert after.get_json() == answers["first"].get_json() and after.headers["Idempotent-Replayed"] == "true"
    assert Job.select().count() == 2
