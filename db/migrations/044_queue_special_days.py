"""044: a queue's special days (holidays, shorter hours on a given date), `{"2026-12-25": [], ...}`: a local date's
hours instead of its weekday's. None at first, so every queue keeps its hours as they were."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("queue", special_days=pw.TextField(default="{}"))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("queue", "special_days")
