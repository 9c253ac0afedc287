"""028 and 037: the trigram index on the messages' text without accents where PostgreSQL has pg_trgm and unaccent,
read by a search, and an upgrade that goes on without them where the role may not add the extensions."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlparse, urlunparse

import pytest

from db.base import make_database
from db.messages import Message, saying
from db.migrate import pending_migrations, upgrade
from tests.conftest import ADMIN_DATABASE_URL, _admin_execute

MIGRATIONS = ("028_message_body_trigram", "037_unaccented_search")
INDEXES_ON_MESSAGE = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'message'"


def test_the_messages_text_without_accents_has_a_trigram_index_on_postgresql(database):
    indexes = dict(database.execute_sql(INDEXES_ON_MESSAGE).fetchall())

    assert "f_unaccent(body) gin_trgm_ops" in indexes["message_body_unaccent_trigram"]
    assert "message_body_trigram" not in indexes  # 028's, on the text as it is: no search reads it any more
    assert database.execute_sql("SELECT f_unaccent('AÇÃO, João')").fetchone()[0] == "ACAO, Joao"


def test_a_search_reads_the_index(database):
    sql, params = Message.select(Message.id).where(saying("joão")).sql()

    with database.atomic():
        database.execute_sql("SET LOCAL enable_seqscan = off")  # the empty table would be read whole otherwise
        plan = "\n".join(row[0] for row in database.execute_sql("EXPLAIN " + sql, params))

    assert "message_body_unaccent_trigram" in plan


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


def test_a_role_that_may_not_add_the_extensions_upgrades_all_the_same_without_them(database_of_a_role_without_create,
                                                                                     caplog):
    database = database_of_a_role_without_create

    with caplog.at_level(logging.WARNING, logger="db.migrate"):
        applied = upgrade(database)

    assert set(MIGRATIONS) <= set(applied) and pending_migrations(database) == []
    assert not [name for name in dict(database.execute_sql(INDEXES_ON_MESSAGE).fetchall()) if "trigram" in name]
    warnings = " ".join(record.getMessage() for record in caplog.records)
    assert "pg_trgm cannot be added" in warnings and "the unaccent extension cannot be added" in warnings
    assert database.execute_sql("SELECT f_unaccent('João')").fetchone()[0] == "João"  # the stand-in: as it is
    database.execute_sql(*Message.select(Message.id).where(saying("pedido")).sql())  # the search still runs
