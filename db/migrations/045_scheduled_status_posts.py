"""045: a schedule may post a WhatsApp Status (`status_post`) instead of messaging a contact: its body is the
Status's text, its mediaUrl its image, video or audio."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("schedule", status_post=pw.BooleanField(default=False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("schedule", "status_post")
