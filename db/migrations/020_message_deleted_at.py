"""020: when a message of ours was deleted for everyone (`deleted_at`): WhatsApp revokes it on the contact's
phone, and we keep the row, as the conversation's record, marked deleted."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", deleted_at=pw.DateTimeField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("message", "deleted_at")
