"""049: automation rules (`automation_rule`), Chatwoot's: conditions on a ticket's event and the actions done when they
hold; and their runs (`automation_run`), one per rule and message, written with the actions they did."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class AutomationRule(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name="company_id", field="id", model=migrator.orm["company"],
                                     on_delete="CASCADE")
        name = pw.CharField(max_length=100)
        description = pw.TextField(default="")
        event = pw.CharField(max_length=20)
        match = pw.CharField(max_length=3, default="all")
        conditions = pw.TextField()
        actions = pw.TextField()
        active = pw.BooleanField(default=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "automation_rule"
            indexes = ((("company", "event", "active"), False),)

    @migrator.create_model
    class AutomationRun(pw.Model):
        id = pw.AutoField()
        rule = pw.ForeignKeyField(column_name="rule_id", field="id", model=migrator.orm["automation_rule"],
                                  on_delete="CASCADE")
        ticket = pw.ForeignKeyField(column_name="ticket_id", field="id", model=migrator.orm["ticket"],
                                    on_delete="CASCADE")
        message = pw.ForeignKeyField(column_name="message_id", field="id", model=migrator.orm["message"],
                                     on_delete="CASCADE")
        status = pw.CharField(max_length=10)
        failed_action = pw.IntegerField(null=True)
        error = pw.TextField(null=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "automation_run"
            indexes = ((("rule", "message"), True), (("rule", "created_at"), False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("automation_run")
    migrator.remove_model("automation_rule")
