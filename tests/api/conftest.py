"""Fixtures the API tests share: an admin of a new company, their request headers, their company and its
default connection (a module may define its own company or connection)."""

import pytest


@pytest.fixture
def admin(factories):
    return factories.user(role="admin")


@pytest.fixture
def headers(factories, app, admin):
    return factories.auth_headers(app, admin)


@pytest.fixture
def company(admin):
    return admin.company


@pytest.fixture
def connection(factories, company):
    return factories.connection(company, is_default=True)
