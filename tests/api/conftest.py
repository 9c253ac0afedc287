"""Fixtures the API tests share: an admin of a new company and their request headers."""

import pytest


@pytest.fixture
def admin(factories):
    return factories.user(role="admin")


@pytest.fixture
def headers(factories, app, admin):
    return factories.auth_headers(app, admin)
