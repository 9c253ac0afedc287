"""014: the history of connections' session statuses (connected, disconnected, ...), for their uptime."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class ConnectionEvent(pw.Model):
        id = pw.AutoField()
        connection = pw.ForeignKeyField(
            column_name="connection_id", field="id", model=migrator.orm["connection"], on_delete="CASCADE"
        )
        status = pw.CharField(max_length=20)
        at = pw.DateTimeField()
        reason = pw.TextField(null=True)

        class Meta:
            table_name = "connection_event"
            indexes = [(("connection", "at", "status"), True)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("connection_event")
