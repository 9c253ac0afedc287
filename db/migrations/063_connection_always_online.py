"""063: a number that shows "online" to its contacts while its session is up (`always_online`, Evolution API's
alwaysOnline); otherwise it shows "last seen", and the phone's own app keeps its notifications."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("connection", always_online=pw.BooleanField(default=False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("connection", "always_online")
