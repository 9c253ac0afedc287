"""028: the trigram index on the messages' text where PostgreSQL has pg_trgm, and an upgrade that goes on
without it where the role may not add the extension."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlparse, urlunparse

import pytest

from db.base import make_database
from db.migrate import pending_migrations, upgrade
from tests.conftest import ADMIN_DATABASE_URL, _admin_execute

MIGRATION = "028_message_body_trigram"
INDEXES_ON_MESSAGE = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'message'"


def test_the_messages_text_has_a_trigram_index_on_postgresql(database):
    indexes = dict(database.execute_sql(INDEXES_ON_MESSAGE).fetchall())

    assert "gin_trgm_ops" in indexes["message_body_trigram"]


@pytest.fixture
def database_of_a_role_without_create():
    """A new database owned by a new role that may create tables but not extensions (no CREATE on the database,
    as on a managed server where only an administrator adds them); dropped afterwards with the role."""
    name = f"wharf_test_028_{uuid.uuid4().hex[:8]}"
    admin_url = urlparse(ADMIN_DATABASE_URL)
    _admin_execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{name}'")
    _admin_execute(f'CREATE DATABASE "{name}" OWNER "{name}"')
    _admin_execute(f'REVOKE CREATE ON DATABASE "{name}" FROM "{name}"')
    netloc = f"{name}:{name}@{admin_url.hostname}:{admin_url.port or 5432}"
    database = make_database(urlunparse(admin_url._replace(netloc=netloc, path=f"/{name}")))
    try:
        yield database
    finally:
        database.close_all()
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin_execute(f'DROP ROLE IF EXISTS "{name}"')


def test_a_role_that_may_not_add_pg_trgm_upgrades_all_the_same_without_the_index(database_of_a_role_without_create,
                                                                                    caplog):
    database = database_of_a_role_without_create

    with caplog.at_level(logging.WARNING, logger="db.migrate"):
        applied = upgrade(database)

    assert MIGRATION in applied and pending_migrations(database) == []
    assert "message_body_trigram" not in dict(database.execute_sql(INDEXES_ON_MESSAGE).fetchall())
    assert any("pg_trgm cannot be added" in record.getMessage() for record in caplog.records)
    database.execute_sql("SELECT count(*) FROM message WHERE body ILIKE %s", ["%pedido%"])  # the search still runs
