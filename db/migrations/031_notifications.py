"""031: notifications (`db/notifications.py`): an agent mentioned in a note, or given a ticket by someone else,
is told until they read it."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Notification(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name="company_id", field="id", model=migrator.orm["company"],
                                     on_delete="CASCADE")
        user = pw.ForeignKeyField(column_name="user_id", field="id", model=migrator.orm["user"], on_delete="CASCADE")
        kind = pw.CharField(max_length=20)
        ticket = pw.ForeignKeyField(column_name="ticket_id", field="id", model=migrator.orm["ticket"], null=True,
                                    on_delete="CASCADE")
        actor = pw.ForeignKeyField(column_name="actor_id", field="id", model=migrator.orm["user"], null=True,
                                   on_delete="SET NULL", backref="notifications_made")
        data = pw.TextField()
        created_at = pw.DateTimeField()
        read_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "notification"
            indexes = ((("user", "read_at", "created_at"), False),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("notification")
