"""060: a number that reads the contacts' messages as they come (`read_messages`, Evolution API's readMessages): they
see blue ticks at once."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("connection", read_messages=pw.BooleanField(default=False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("connection", "read_messages")
