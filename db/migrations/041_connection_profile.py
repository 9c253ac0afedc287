"""041: a connection keeps the number's own WhatsApp profile as Wharf sets it: its name, its "about" text, and its
picture (a square JPEG in the media store, with WhatsApp's id of it once shown)."""

import peewee as pw
from peewee_migrate import Migrator

FIELDS = ("profile_name", "profile_about", "profile_picture_path", "profile_picture_id")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("connection", profile_name=pw.CharField(max_length=25, null=True),
                        profile_about=pw.CharField(max_length=139, null=True),
                        profile_picture_path=pw.TextField(null=True),
                        profile_picture_id=pw.CharField(max_length=64, null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("connection", *FIELDS)
