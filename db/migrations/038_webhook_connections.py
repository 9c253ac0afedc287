"""038: a webhook for some of the company's numbers (`connection_ids`: only their events; null: every event), as
Evolution API's webhook per instance."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("webhook", connection_ids=pw.TextField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("webhook", "connection_ids")
