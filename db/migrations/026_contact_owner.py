"""026: a contact's owner (Whaticket's "carteira", a portfolio): the agent whose contact it is gets the
contact's new tickets at once (`workers/assignment.py`)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("contact", owner=pw.ForeignKeyField(migrator.orm["user"], null=True, on_delete="SET NULL",
                                                            index=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("contact", "owner")
