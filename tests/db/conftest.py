"""Databases of their own at a migration, to test the next one on PostgreSQL and on SQLite."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import peewee

from db.base import make_database
from db.migrate import _router
from tests.conftest import ADMIN_DATABASE_URL, _admin_execute


@contextlib.contextmanager
def migrated_to(migration: str, kind: str, tmp_path: Path) -> Iterator[peewee.Database]:
    """A new database (`kind`: "postgresql" or "sqlite") with the migrations up to `migration` applied; dropped
    afterwards."""
    if kind == "sqlite":
        database = make_database(f"sqlite:///{tmp_path / 'wharf.db'}")
        _router(database).run(migration)
        yield database
        database.close_all()
        return
    name = f"wharf_test_{migration[:3]}_{uuid.uuid4().hex[:8]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    database = make_database(urlunparse(urlparse(ADMIN_DATABASE_URL)._replace(path=f"/{name}")))
    try:
        _router(database).run(migration)
        yield database
    finally:
        database.close_all()
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
