"""019: Idempotency-Keys per caller. The keys claimed before it survive, on PostgreSQL and on SQLite."""

from __future__ import annotations

import peewee
import pytest

from db.migrate import _router
from tests.db.conftest import migrated_to

BEFORE = "018_sending_at"
MIGRATION = "019_idempotency_keys_per_caller"


@pytest.fixture(params=["postgresql", "sqlite"])
def migrated_to_018(request, tmp_path):
    """A database of its own with the migrations up to 018 applied."""
    with migrated_to(BEFORE, request.param, tmp_path) as database:
        yield database


def claim(database: peewee.Database, company_id: int, key: str, caller: str | None = None) -> None:
    columns, values = '"company_id", "key", "fingerprint", "status_code", "response", "created_at"', [
        company_id, key, "f" * 64, 202, '{"jobId": "j1"}', "2024-05-01 12:00:00"]
    if caller is not None:
        columns, values = columns + ', "caller"', [*values, caller]
    placeholders = ", ".join([database.param] * len(values))
    database.execute_sql(f'INSERT INTO "idempotency_key" ({columns}) VALUES ({placeholders})', values)


def a_company(database: peewee.Database) -> int:
    database.execute_sql(
        'INSERT INTO "company" ("name", "status", "timezone", "default_country", "created_at", "updated_at") '
        f"VALUES ('Acme', 'active', 'UTC', 'BR', {database.param}, {database.param})",
        ["2024-05-01 12:00:00", "2024-05-01 12:00:00"],
    )
    return database.execute_sql('SELECT max("id") FROM "company"').fetchone()[0]


def test_keys_claimed_before_019_survive_it_with_no_caller(migrated_to_018):
    database = migrated_to_018
    company_id = a_company(database)
    claim(database, company_id, "order-17")

    applied = _router(database).run(MIGRATION)

    assert applied == [MIGRATION]
    rows = database.execute_sql(
        'SELECT "company_id", "caller", "key", "status_code", "response" FROM "idempotency_key"').fetchall()
    assert [tuple(row) for row in rows] == [(company_id, "", "order-17", 202, '{"jobId": "j1"}')]


def test_after_019_two_callers_hold_one_key_and_one_caller_holds_it_once(migrated_to_018):
    database = migrated_to_018
    company_id = a_company(database)
    _router(database).run(MIGRATION)

    claim(database, company_id, "order-17", "user:1")
    claim(database, company_id, "order-17", "api_key:1")

    with pytest.raises(peewee.IntegrityError), database.atomic():
        claim(database, company_id, "order-17", "user:1")
    assert database.execute_sql('SELECT count(*) FROM "idempotency_key"').fetchone()[0] == 2


def test_rolling_019_back_keeps_the_oldest_claim_of_each_key(migrated_to_018):
    database = migrated_to_018
    company_id = a_company(database)
    _router(database).run(MIGRATION)
    claim(database, company_id, "order-17", "user:1")
    claim(database, company_id, "order-17", "user:2")
    claim(database, company_id, "order-18", "user:2")

    _router(database).rollback()

    rows = database.execute_sql('SELECT "key" FROM "idempotency_key" ORDER BY "id"').fetchall()
    assert [key for (key,) in rows] == ["order-17", "order-18"]
    assert "caller" not in {column.name for column in database.get_columns("idempotency_key")}
    with pytest.raises(peewee.IntegrityError), database.atomic():
        claim(database, company_id, "order-18")
