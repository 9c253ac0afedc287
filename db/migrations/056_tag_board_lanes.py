"""056: tags that are lanes of the ticket board (`board_position`, Whaticket's Kanban), in that order."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("tag", board_position=pw.SmallIntegerField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("tag", "board_position")
