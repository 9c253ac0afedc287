"""054: an SLA policy whose clock stops while the ticket's queue is closed (`business_hours_only`, Chatwoot's "only
during business hours")."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("sla_policy", business_hours_only=pw.BooleanField(default=False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("sla_policy", "business_hours_only")
