"""018: when the gateway took a message to send it (`sending_at`), so the watchdog measures a stuck send
from its first attempt, not from when it was queued: a backlog waiting its turn is not a stuck session."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", sending_at=pw.DateTimeField(null=True))
    migrator.sql('UPDATE "message" SET "sending_at" = "created_at" WHERE "status" = \'sending\'')  # as measured before
    migrator.sql('DROP INDEX "message_unsent_by_connection"')
    migrator.sql(
        'CREATE INDEX "message_sending_by_connection" ON "message" ("connection_id", "sending_at") '
        "WHERE \"status\" = 'sending'"
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DROP INDEX "message_sending_by_connection"')
    migrator.sql(
        'CREATE INDEX "message_unsent_by_connection" ON "message" ("connection_id", "created_at") '
        "WHERE \"status\" IN ('queued', 'sending')"
    )
    migrator.remove_fields("message", "sending_at")
