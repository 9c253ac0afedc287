"""046: a campaign may ask a poll (`poll`, JSON text: the question, its options and how many a person may choose)
instead of a text; its report tallies the recipients' votes."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("campaign", poll=pw.TextField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("campaign", "poll")
