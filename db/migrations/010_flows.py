"""010: flows (chatbots): drafts, published versions, sessions and their step log."""

import peewee as pw
from peewee_migrate import Migrator


def fk(migrator: Migrator, table: str, column: str, on_delete: str, null: bool = False, index: bool = True):
    return pw.ForeignKeyField(
        column_name=column, field="id", model=migrator.orm[table], on_delete=on_delete, null=null, index=index
    )


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Flow(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = fk(migrator, "company", "company_id", "CASCADE")
        name = pw.CharField(max_length=200)
        definition = pw.TextField()
        trigger_type = pw.CharField(default="api", max_length=20)
        published_version = pw.IntegerField(null=True)
        active = pw.BooleanField(default=True)

        class Meta:
            table_name = "flow"
            indexes = [(("company", "trigger_type", "active"), False)]

    @migrator.create_model
    class FlowVersion(pw.Model):
        id = pw.AutoField()
        flow = fk(migrator, "flow", "flow_id", "CASCADE")
        version = pw.IntegerField()
        definition = pw.TextField()
        published_by = fk(migrator, "user", "published_by_id", "SET NULL", null=True)
        published_at = pw.DateTimeField()

        class Meta:
            table_name = "flow_version"
            indexes = [(("flow", "version"), True)]

    @migrator.create_model
    class FlowSession(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = fk(migrator, "company", "company_id", "CASCADE")
        flow = fk(migrator, "flow", "flow_id", "CASCADE")
        version = fk(migrator, "flow_version", "version_id", "CASCADE")
        ticket = fk(migrator, "ticket", "ticket_id", "CASCADE")
        contact = fk(migrator, "contact", "contact_id", "CASCADE")
        connection = fk(migrator, "connection", "connection_id", "SET NULL", null=True)
        trigger = pw.CharField(max_length=20)
        status = pw.CharField(default="running", max_length=10)
        node = pw.CharField(max_length=100, null=True)
        variables = pw.TextField()
        waiting = pw.CharField(max_length=10, null=True)
        wait_until = pw.DateTimeField(null=True)
        retries = pw.IntegerField(default=0)
        pending_event = pw.TextField(null=True)
        step_seq = pw.IntegerField(default=0)
        steps_since_input = pw.IntegerField(default=0)
        last_input_id = pw.IntegerField(default=0)
        end_reason = pw.CharField(max_length=30, null=True)
        ended_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "flow_session"
            indexes = [
                (("company", "status", "created_at"), False),
                (("status", "wait_until"), False),
                (("flow", "status"), False),
            ]

    @migrator.create_model
    class FlowStep(pw.Model):
        id = pw.AutoField()
        session = fk(migrator, "flow_session", "session_id", "CASCADE")
        seq = pw.IntegerField()
        node = pw.CharField(max_length=100)
        node_type = pw.CharField(max_length=20)
        event = pw.TextField(null=True)
        effects = pw.TextField()
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "flow_step"
            indexes = [(("session", "seq"), True)]

    # One live session per ticket (a partial index, which peewee-migrate's create_model cannot say).
    migrator.sql(
        "CREATE UNIQUE INDEX flow_session_live_ticket ON flow_session (ticket_id) "
        "WHERE status IN ('running', 'waiting')"
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table in ("flow_step", "flow_session", "flow_version", "flow"):
        migrator.remove_model(table)
