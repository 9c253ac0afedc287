"""059: a bot's messages know the flow session that wrote it (`message.flow_session`), so that one still waiting to go
(its typing, a session down) when the bot is let go of (an agent takes the ticket, the contact opts out...) is not
sent."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", flow_session=pw.ForeignKeyField(migrator.orm["flow_session"], null=True,
                                                                   on_delete="SET NULL"))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("message", "flow_session")
