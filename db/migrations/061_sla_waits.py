"""061: the contacts' waits for a next response that ended (`sla_wait`: ticket, since, due time), so that the SLA
analytics count the next responses that fell due as they do first responses and resolutions."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class SlaWait(pw.Model):
        id = pw.AutoField()
        ticket = pw.ForeignKeyField(column_name="ticket_id", field="id", model=migrator.orm["ticket"],
                                    on_delete="CASCADE")
        since = pw.DateTimeField()
        due_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "sla_wait"
            indexes = ((("ticket", "since"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("sla_wait")
