"""Liveness and readiness."""

from wharf.redis_client import probe


def test_healthz_answers_without_auth(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "checks": {}}


def test_readyz_is_200_when_the_database_and_redis_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "scheduler": "error: no scheduler holds the lead",
    }


def test_readyz_says_ok_for_the_scheduler_while_one_leads(client, redis_client):
    from scheduler.status import LEADER_KEY
    from wharf.leases import Lease

    Lease(redis_client, LEADER_KEY).hold()

    assert client.get("/readyz").get_json()["checks"]["scheduler"] == "ok"


def test_readyz_is_503_when_redis_does_not_answer(client, monkeypatch):
    unreachable = probe("redis://127.0.0.1:1/0")  # nothing listens there
    monkeypatch.setattr("scheduler.status.probe_client", lambda: unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "ok"
    assert response.get_json()["checks"]["redis"].startswith("error")
