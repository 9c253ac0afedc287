"""039: a quick message's file says what it is (`media_mimetype`, `media_name`), as a message's does, so that it can
be sent; a file given before is typed by its name."""

import mimetypes

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("quick_message", media_mimetype=pw.CharField(max_length=100, null=True),
                        media_name=pw.CharField(max_length=255, null=True))
    migrator.run(type_files_given_before, database)


def type_files_given_before(database: pw.Database) -> None:
    rows = database.execute_sql("SELECT id, media_path FROM quick_message WHERE media_path IS NOT NULL").fetchall()
    for row_id, path in rows:
        mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        database.execute_sql("UPDATE quick_message SET media_mimetype = %s, media_name = %s WHERE id = %s"
                             .replace("%s", database.param), (mimetype, path.rsplit("/", 1)[-1], row_id))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("quick_message", "media_mimetype", "media_name")
