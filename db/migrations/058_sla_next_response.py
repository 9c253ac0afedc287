"""058: Chatwoot's third SLA target, the next response: an SLA policy's `next_response_minutes`, and on a ticket the
contact's first message since our last answer (`waiting_since`, after the first response) with when the next answer is
due; a ticket may miss it once per wait, so a miss is once per ticket, target and due time."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("sla_policy", next_response_minutes=pw.IntegerField(null=True))
    migrator.add_fields("ticket", waiting_since=pw.DateTimeField(null=True),
                        next_response_due_at=pw.DateTimeField(null=True, index=True))
    # Raw SQL: the index is named after the model (`slamiss_...`), not the table, as migrator.drop_index would name it.
    migrator.sql('DROP INDEX "slamiss_ticket_id_kind"')
    migrator.sql('CREATE UNIQUE INDEX "slamiss_ticket_id_kind_due_at" ON "sla_miss" ("ticket_id", "kind", "due_at")')
    migrator.orm["sla_miss"]._meta.indexes = [(("ticket", "kind", "due_at"), True)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DELETE FROM \"sla_miss\" WHERE \"kind\" = 'next_response'")
    migrator.sql('DROP INDEX "slamiss_ticket_id_kind_due_at"')
    migrator.sql('CREATE UNIQUE INDEX "slamiss_ticket_id_kind" ON "sla_miss" ("ticket_id", "kind")')
    migrator.orm["sla_miss"]._meta.indexes = [(("ticket", "kind"), True)]
    migrator.remove_fields("ticket", "waiting_since", "next_response_due_at")
    migrator.remove_fields("sla_policy", "next_response_minutes")
