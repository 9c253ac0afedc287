"""015: inbound messages whose follow-up (events, greeting, menu, bot) is not done yet, so that a
redelivery after a crash does it instead of finding the message stored and doing nothing."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class PendingFollowUp(pw.Model):
        message = pw.ForeignKeyField(
            column_name="message_id", field="id", model=migrator.orm["message"], on_delete="CASCADE", primary_key=True
        )
        announced = pw.BooleanField(default=False)

        class Meta:
            table_name = "pending_follow_up"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("pending_follow_up")
