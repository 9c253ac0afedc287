"""051: SLA policies (`sla_policy`: first-response and resolution targets), a ticket's policy and the due times it set,
and the targets a ticket missed (`sla_miss`, once per ticket and kind)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class SlaPolicy(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name="company_id", field="id", model=migrator.orm["company"],
                                     on_delete="CASCADE")
        name = pw.CharField(max_length=100)
        description = pw.TextField(default="")
        first_response_minutes = pw.IntegerField(null=True)
        resolution_minutes = pw.IntegerField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "sla_policy"
            indexes = ((("company", "name"), True),)

    migrator.add_fields("ticket",
                        sla_policy=pw.ForeignKeyField(migrator.orm["sla_policy"], null=True, on_delete="SET NULL"),
                        first_response_due_at=pw.DateTimeField(null=True, index=True),
                        resolution_due_at=pw.DateTimeField(null=True, index=True))

    @migrator.create_model
    class SlaMiss(pw.Model):
        id = pw.AutoField()
        ticket = pw.ForeignKeyField(column_name="ticket_id", field="id", model=migrator.orm["ticket"],
                                    on_delete="CASCADE")
        kind = pw.CharField(max_length=20)
        due_at = pw.DateTimeField()
        missed_at = pw.DateTimeField()

        class Meta:
            table_name = "sla_miss"
            indexes = ((("ticket", "kind"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("sla_miss")
    migrator.remove_fields("ticket", "sla_policy", "first_response_due_at", "resolution_due_at")
    migrator.remove_model("sla_policy")
