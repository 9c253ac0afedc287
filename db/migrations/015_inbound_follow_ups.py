"""015: inbound messages whose follow-up (events, greeting, menu, bot) is not done yet, so that a
redelivery after a crash does it instead of finding the message stored and doing nothing."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", follow_up_pending=pw.BooleanField(default=False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("message", "follow_up_pending")
