"""Migrations apply in order on SQLite (the embedded default) and once only."""

from __future__ import annotations

from db.base import make_database
from db.migrate import pending_migrations, upgrade


def test_migrations_apply_on_a_fresh_sqlite_file_and_twice_is_a_no_op(tmp_path):
    database = make_database(f"sqlite:///{tmp_path / 'wharf.db'}")

    applied = upgrade(database)

    assert applied and applied[0] == "001_initial"
    assert upgrade(database) == []
    assert pending_migrations(database) == []
    assert {"company", "user", "message", "job"} <= set(database.get_tables())
    database.close_all()


def test_the_test_database_on_postgresql_is_fully_migrated(database):
    assert pending_migrations(database) == []


def test_the_migrations_build_every_model_s_table_and_columns(tmp_path):
    """A model changed without a migration is caught here, not in production."""
    import db

    database = make_database(f"sqlite:///{tmp_path / 'wharf.db'}")
    upgrade(database)

    for model in db.ALL_MODELS:
        table = model._meta.table_name
        columns = {column.name for column in database.get_columns(table)}
        expected = {field.column_name for field in model._meta.sorted_fields}
        assert columns == expected, f"{table}: run `wharf db makemigration NAME` for the changed model"
    database.close_all()
