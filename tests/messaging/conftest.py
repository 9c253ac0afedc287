"""A company with an admin, and its default connection on the simulated network; a file server for media URLs."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest

import wharf.settings
from tests.file_server import serving_files
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


@pytest.fixture
def file_server(monkeypatch):
    """The base URL of a real HTTP server on loopback serving tests/file_server.py's `FILES`; loopback allowed."""
    loopback = (ipaddress.ip_network("127.0.0.1/32"),)
    monkeypatch.setattr(wharf.settings, "settings",
                        dataclasses.replace(wharf.settings.settings, http_allow_private_networks=loopback))
    with serving_files() as url:
        yield url
