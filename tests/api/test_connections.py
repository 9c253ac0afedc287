"""Connections: created stopped, started and stopped through the gateway, QR login, plan limits."""

from __future__ import annotations

import pytest

from db.connections import Connection
from tests.waiting import wait_for
from workers.transports import simulator


@pytest.fixture
def company(factories):
    return factories.company(plan=factories.plan(max_connections=2))


@pytest.fixture
def as_admin(app, factories, company):
    return factories.auth_headers(app, factories.user(company, role="admin"))


def test_the_first_connection_is_the_default_and_names_are_unique(client, as_admin):
    first = client.post("/api/connections", json={"name": "Vendas"}, headers=as_admin)
    again = client.post("/api/connections", json={"name": "Vendas"}, headers=as_admin)

    assert first.status_code == 201
    assert (first.get_json()["isDefault"], first.get_json()["status"], first.get_json()["transport"]) == (
        True, "stopped", "simulator")
    assert again.status_code == 409


def test_the_plan_limits_the_connections(client, as_admin):
    for name in ("A", "B"):
        assert client.post("/api/connections", json={"name": name}, headers=as_admin).status_code == 201

    over = client.post("/api/connections", json={"name": "C"}, headers=as_admin)

    assert over.status_code == 403 and over.get_json()["error"] == "plan_limit_reached"
    assert Connection.select().count() == 2


def test_agents_neither_start_a_connection_nor_see_its_login_qr(app, client, factories, company):
    """Whoever scans the QR makes their own WhatsApp account the connection's number."""
    connection = factories.connection(company)
    agent = factories.auth_headers(app, factories.user(company, role="agent"))

    assert client.post(f"/api/connections/{connection.id}/start", headers=agent).status_code == 403
    assert not Connection.get_by_id(connection.id).enabled
    assert client.get(f"/api/connections/{connection.id}/qr", headers=agent).status_code == 403


def test_start_shows_the_qr_until_it_is_scanned_then_the_session_connects(client, factories, company, as_admin,
                                                                          redis_client, worker, gateway):
    connection = factories.connection(company)
    simulator.configure(redis_client, connection.id, requireQr=True)

    started = client.post(f"/api/connections/{connection.id}/start", headers=as_admin)
    assert started.status_code == 202 and started.get_json()["enabled"]
    assert wait_for(lambda: client.get(f"/api/connections/{connection.id}/qr", headers=as_admin).get_json()["qr"],
                    timeout=20)
    png = client.get(f"/api/connections/{connection.id}/qr?format=png", headers=as_admin)
    client.patch(f"/api/simulator/{connection.id}", json={"scanQr": True}, headers=as_admin)

    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    assert client.get(f"/api/connections/{connection.id}/qr", headers=as_admin).get_json()["qr"] is None


def test_logout_ends_the_session_and_the_login(client, factories, company, as_admin, redis_client, worker, gateway):
    connection = factories.connection(company, enabled=True)
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)

    client.post(f"/api/connections/{connection.id}/logout", headers=as_admin)

    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "logged_out", timeout=20)
    assert not redis_client.exists(simulator.key(connection.id, "paired"))
    assert not Connection.get_by_id(connection.id).enabled


def test_the_simulator_api_refuses_a_real_connection(client, factories, company, as_admin):
    real = factories.connection(company, transport="neonize")

    answer = client.post(f"/api/simulator/{real.id}/inbound", json={"from": "+5511987654321", "body": "oi"},
                         headers=as_admin)

    assert answer.status_code == 409 and answer.get_json()["error"] == "not_simulated"


def test_deleting_a_simulated_connection_clears_its_network(client, factories, company, as_admin, redis_client):
    connection = factories.connection(company)
    simulator.configure(redis_client, connection.id, failRate=0.5)
    simulator.inject_inbound(redis_client, connection.id, "+5511987654321", "oi")

    assert client.delete(f"/api/connections/{connection.id}", headers=as_admin).status_code == 204

    assert not redis_client.keys(f"wharf:sim:{connection.id}:*")
