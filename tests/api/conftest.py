"""Fixtures the API tests share: an admin of a new company, their request headers (`headers`, or `as_admin`), their
company and its default connection (a module may define its own company or connection), and `database_kind`, which
runs the tests that ask for it on PostgreSQL, then on SQLite (the embedded default)."""

import pytest

from tests.workers.import_helpers import on_sqlite


@pytest.fixture
def admin(factories):
    return factories.user(role="admin")


@pytest.fixture
def headers(factories, app, admin):
    return factories.auth_headers(app, admin)


@pytest.fixture
def as_admin(headers):
    """`headers`, by the name the modules that also act as other roles (`as_agent`...) give it."""
    return headers


@pytest.fixture
def company(admin):
    return admin.company


@pytest.fixture
def connection(factories, company):
    return factories.connection(company, is_default=True)


@pytest.fixture(params=["postgresql", "sqlite"])
def database_kind(request, tmp_path, database):
    """The test on PostgreSQL, then on SQLite: the rows it makes after asking for this are in that database."""
    if request.param == "sqlite":
        with on_sqlite(tmp_path):
            yield request.param
    else:
        yield request.param
