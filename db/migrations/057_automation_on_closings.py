"""057: automation rules on a ticket's closing (`ticket_closed`): a rule's run on a closing (`automation_run.closing`,
the `closed` line of the ticket's history; once per rule and closing)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("automation_run", closing=pw.ForeignKeyField(migrator.orm["ticket_event"], null=True,
                                                                     on_delete="CASCADE"))
    # Raw SQL: the index is named after the model (`automationrun_...`), as the model's `indexes` name it.
    migrator.sql('CREATE UNIQUE INDEX "automationrun_rule_id_closing_id" ON "automation_run" ("rule_id", "closing_id")')
    migrator.orm["automation_run"]._meta.indexes = [
        (("rule", "message"), True), (("rule", "sla_miss"), True), (("rule", "closing"), True),
        (("rule", "created_at"), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DELETE FROM "automation_run" WHERE "closing_id" IS NOT NULL')
    migrator.sql('DROP INDEX "automationrun_rule_id_closing_id"')
    migrator.orm["automation_run"]._meta.indexes = [
        (("rule", "message"), True), (("rule", "sla_miss"), True), (("rule", "created_at"), False)]
    migrator.remove_fields("automation_run", "closing")
