"""029: whether a contact's number is on WhatsApp, as a session last found it (`workers/number_check.py`), so
campaigns skip the numbers that are not instead of failing a send to each."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("contact", on_whatsapp=pw.BooleanField(null=True),
                        whatsapp_checked_at=pw.DateTimeField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("contact", "on_whatsapp", "whatsapp_checked_at")
