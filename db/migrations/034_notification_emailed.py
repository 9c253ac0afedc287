"""034: a notification's e-mail (`workers.emails.email_notification`) is claimed on its row, so a redelivered job
does not send it twice."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("notification", emailed_at=pw.DateTimeField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("notification", "emailed_at")
