"""064: custom fields of tickets (Chatwoot's conversation attributes): their definitions (`ticket_field`: key, label,
type, one key per company) and each ticket's values (`ticket.custom_fields`)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class TicketField(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        key = pw.CharField(max_length=50)
        label = pw.CharField(max_length=100)
        type = pw.CharField(max_length=10, default="text")
        company = pw.ForeignKeyField(column_name="company_id", field="id", model=migrator.orm["company"],
                                     on_delete="CASCADE")

        class Meta:
            table_name = "ticket_field"
            indexes = ((("company", "key"), True),)

    migrator.add_fields("ticket", custom_fields=pw.TextField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("ticket", "custom_fields")
    migrator.remove_model("ticket_field")
