"""Liveness and readiness."""

import redis


def test_healthz_answers_without_auth(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "checks": {}}


def test_readyz_is_200_when_the_database_and_redis_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_when_redis_does_not_answer(client, monkeypatch):
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr("api.resources.system.redis_client", lambda: unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "ok"
    assert response.get_json()["checks"]["redis"].startswith("error")
