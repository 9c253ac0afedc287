"""016: the messages' media keys indexed (where there is one), so the orphan-media sweep looks each
file up instead of reading every message."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('CREATE INDEX "message_media_path" ON "message" ("media_path") WHERE "media_path" IS NOT NULL')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DROP INDEX "message_media_path"')
