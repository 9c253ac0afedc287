"""047: a message WhatsApp shows as forwarded (`forwarded`): one we forwarded (`POST /api/messages/:id/forward`), or
one a contact forwarded to us."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", forwarded=pw.BooleanField(default=False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("message", "forwarded")
