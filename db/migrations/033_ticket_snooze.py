"""033: snoozed tickets (Chatwoot's snooze): an open ticket out of the way until a time, or until the contact
writes (`snoozed_until` null). The scheduler's `wake_snoozed_tickets` reads the due ones by a partial index,
as small as the snoozed tickets with a time."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("ticket", snoozed_at=pw.DateTimeField(null=True), snoozed_until=pw.DateTimeField(null=True))
    migrator.sql('CREATE INDEX "ticket_snoozed_until" ON "ticket" ("snoozed_until") WHERE "snoozed_until" IS NOT NULL')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DROP INDEX "ticket_snoozed_until"')
    migrator.remove_fields("ticket", "snoozed_at", "snoozed_until")
