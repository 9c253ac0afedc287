"""Versioned migrations: files in db/migrations, applied in order by `wharf db upgrade`.

peewee-migrate records what ran in its `migratehistory` table, so upgrading twice is a no-op.
A developer who changes a model runs `wharf db makemigration NAME`, which writes the diff
between the models and the migrations as a new file to review and commit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import peewee
from peewee_migrate import Router

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

logger = logging.getLogger(__name__)


def _router(database: peewee.Database) -> Router:
    return Router(database, migrate_dir=MIGRATIONS_DIR, ignore=["basemodel"], logger=logger)


def upgrade(database: peewee.Database) -> list[str]:
    """Apply every migration not applied yet; return their names."""
    router = _router(database)
    pending = router.diff
    router.run()
    return pending


def pending_migrations(database: peewee.Database) -> list[str]:
    return _router(database).diff


def make_migration(database: peewee.Database, name: str) -> str | None:
    """Write a migration for what the models have that the migrations do not yet."""
    import db

    return _router(database).create(name, auto=db.ALL_MODELS)
