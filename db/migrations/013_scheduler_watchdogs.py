"""013: what the scheduler's watchdogs flag: unhealthy connections (and a reconnect asked of the gateway),
sends whose receipt is overdue."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields(
        "connection",
        flagged_reason=pw.TextField(null=True),
        flagged_at=pw.DateTimeField(null=True),
        reconnect_requested=pw.BooleanField(default=False),
    )
    migrator.add_fields("message", ack_overdue=pw.BooleanField(default=False))
    # Small partial indexes: the watchdogs look only at unsent and unacknowledged messages.
    migrator.sql(
        'CREATE INDEX "message_unsent_by_connection" ON "message" ("connection_id", "created_at") '
        "WHERE \"status\" IN ('queued', 'sending')"
    )
    migrator.sql(
        'CREATE INDEX "message_awaiting_receipt" ON "message" ("sent_at") '
        'WHERE "status" = \'sent\' AND NOT "ack_overdue"'
    )
    migrator.sql(
        'CREATE INDEX "message_receipt_overdue" ON "message" ("connection_id") '
        'WHERE "status" = \'sent\' AND "ack_overdue"'
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for index in ("message_receipt_overdue", "message_awaiting_receipt", "message_unsent_by_connection"):
        migrator.sql(f'DROP INDEX "{index}"')
    migrator.remove_fields("message", "ack_overdue")
    migrator.remove_fields("connection", "flagged_reason", "flagged_at", "reconnect_requested")
