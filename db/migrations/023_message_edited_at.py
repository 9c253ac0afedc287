"""023: when a message's text was last edited (`edited_at`): by the contact on their phone, or by us within
WhatsApp's 15 minutes (`PATCH /api/messages/:id`); the message keeps its latest text."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", edited_at=pw.DateTimeField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("message", "edited_at")
