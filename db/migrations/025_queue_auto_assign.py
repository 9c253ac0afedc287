"""025: automatic assignment (`workers/assignment.py`): a queue may give its waiting tickets to its available
agents at once (`auto_assign`), and each agent keeps when they were last given one (ties go to the agent
who waited longest)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("queue", auto_assign=pw.BooleanField(default=False))
    migrator.add_fields("user", last_assigned_at=pw.DateTimeField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("user", "last_assigned_at")
    migrator.remove_fields("queue", "auto_assign")
