"""062: a campaign's audience narrowed by a contact field (`audience_field`: {key, values}), as Chatwoot's segments:
"the contacts whose plan is gold"."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("campaign", audience_field=pw.TextField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("campaign", "audience_field")
