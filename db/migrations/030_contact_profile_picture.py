"""030: contacts' WhatsApp profile pictures, kept in the media store (`workers/profile_pictures.py`) since WhatsApp's
links to them expire: the stored file's key (indexed where there is one, for the orphan-media sweep, as 016),
WhatsApp's id of the picture (a new id is a new picture to download) and when WhatsApp was last asked. 001's
`profile_pic_url` was never written: it becomes the file's key."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.rename_field("contact", "profile_pic_url", "profile_pic_path")
    migrator.add_fields("contact", profile_pic_id=pw.CharField(max_length=64, null=True),
                        profile_pic_checked_at=pw.DateTimeField(null=True))
    migrator.sql('CREATE INDEX "contact_profile_pic_path" ON "contact" ("profile_pic_path") '
                 'WHERE "profile_pic_path" IS NOT NULL')


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DROP INDEX "contact_profile_pic_path"')
    migrator.remove_fields("contact", "profile_pic_id", "profile_pic_checked_at")
    migrator.rename_field("contact", "profile_pic_path", "profile_pic_url")
