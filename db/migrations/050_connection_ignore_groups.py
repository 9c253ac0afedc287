"""050: a number that ignores its groups (`ignore_groups`, Evolution API's groupsIgnore): messages in the WhatsApp groups
it is in open no ticket and are not kept."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("connection", ignore_groups=pw.BooleanField(default=False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("connection", "ignore_groups")
