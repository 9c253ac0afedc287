"""017: the pending webhook deliveries indexed on their own (few among millions kept for the log), for the
scheduler's sweep of those whose message was lost (`resend_lost_deliveries`, every minute)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('CREATE INDEX "webhook_delivery_pending" ON "webhook_delivery" ("id") WHERE "status" = \'pending\'')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DROP INDEX "webhook_delivery_pending"')
