"""022: service ratings (`workers/ratings.py`): when a closed ticket asked its contact to rate the service,
the rating (1 to 5) and when it came."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("ticket", rating_requested_at=pw.DateTimeField(null=True),
                        rating=pw.SmallIntegerField(null=True), rated_at=pw.DateTimeField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("ticket", "rating_requested_at", "rating", "rated_at")
