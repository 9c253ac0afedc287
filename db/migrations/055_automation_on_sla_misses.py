"""055: automation rules on SLA misses (`sla_missed`): a miss whose rules are still to run (`rules_pending`), and a
rule's run on a miss (`automation_run.sla_miss`, once per rule and miss) instead of on a message."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("sla_miss", rules_pending=pw.BooleanField(default=False, index=True))
    migrator.drop_not_null("automation_run", "message")
    migrator.add_fields("automation_run", sla_miss=pw.ForeignKeyField(migrator.orm["sla_miss"], null=True,
                                                                      on_delete="CASCADE"))
    # Raw SQL: the index is named after the model (`automationrun_...`), as the model's `indexes` name it.
    migrator.sql('CREATE UNIQUE INDEX "automationrun_rule_id_sla_miss_id" ON "automation_run" ("rule_id", "sla_miss_id")')
    migrator.orm["automation_run"]._meta.indexes = [
        (("rule", "message"), True), (("rule", "sla_miss"), True), (("rule", "created_at"), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql('DELETE FROM "automation_run" WHERE "message_id" IS NULL')
    migrator.sql('DROP INDEX "automationrun_rule_id_sla_miss_id"')
    migrator.orm["automation_run"]._meta.indexes = [(("rule", "message"), True), (("rule", "created_at"), False)]
    migrator.remove_fields("automation_run", "sla_miss")
    migrator.add_not_null("automation_run", "message")
    migrator.remove_fields("sla_miss", "rules_pending")
