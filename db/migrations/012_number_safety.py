"""012: number safety: the company's opt-out list, per-connection send limits, campaign rotation."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class OptOut(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(
            column_name="company_id", field="id", model=migrator.orm["company"], on_delete="CASCADE"
        )
        phone = pw.CharField(max_length=64)
        contact = pw.ForeignKeyField(
            column_name="contact_id",
            field="id",
            model=migrator.orm["contact"],
            on_delete="SET NULL",
            null=True,
        )
        source = pw.CharField(default="api", max_length=10)
        keyword = pw.CharField(max_length=50, null=True)
        reason = pw.TextField(null=True)

        class Meta:
            table_name = "opt_out"
            indexes = [(("company", "phone"), True)]

    migrator.add_fields(
        "connection",
        send_limits=pw.TextField(null=True),
        first_sent_at=pw.DateTimeField(null=True),
    )
    migrator.add_fields("campaign", connection_ids=pw.TextField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("campaign", "connection_ids")
    migrator.remove_fields("connection", "send_limits", "first_sent_at")
    migrator.remove_model("opt_out")
