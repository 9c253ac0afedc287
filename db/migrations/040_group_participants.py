"""040: a group's members as a session last saw them (`workers/groups.py`: a sync of the connection's groups, or a change
made to the group), kept on the group's contact as JSON, [{"phone", "admin", "superAdmin"}], so that it shows without
asking WhatsApp. Empty for every other contact, and for a group never synced."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("contact", participants=pw.TextField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("contact", "participants")
