"""003: what the gateway needs on connections, and one live ticket per contact and connection."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields(
        "connection",
        enabled=pw.BooleanField(default=False, index=True),
        logout_requested=pw.BooleanField(default=False),
        pair_phone=pw.CharField(max_length=32, null=True),
        reconnects=pw.IntegerField(default=0),
        last_error=pw.TextField(null=True),
    )
    migrator.sql(
        'CREATE UNIQUE INDEX "ticket_live_per_contact" ON "ticket" ("contact_id", "connection_id") '
        "WHERE \"status\" <> 'closed'"
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DROP INDEX "ticket_live_per_contact"')
    migrator.remove_fields("connection", "enabled", "logout_requested", "pair_phone", "reconnects", "last_error")
