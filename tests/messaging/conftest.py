"""A company with an admin, and its default connection on the simulated network."""

from __future__ import annotations

import pytest

from workers.transports import simulator


@pytest.fixture
def company(factories):
    return factories.company(default_country="BR")


@pytest.fixture
def admin_headers(app, factories, company):
    return factories.auth_headers(app, factories.user(company, role="admin"))


@pytest.fixture
def connection(factories, company, redis_client):
    connection = factories.connection(company, enabled=True, is_default=True)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=50)
    return connection
