"""008: campaigns with their per-recipient ledger, and scheduled messages with their runs."""

import peewee as pw
from peewee_migrate import Migrator


def fk(migrator: Migrator, table: str, column: str, on_delete: str, null: bool = False, index: bool = True):
    return pw.ForeignKeyField(column_name=column, field='id', model=migrator.orm[table], on_delete=on_delete,
                              null=null, index=index)


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Campaign(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = fk(migrator, 'company', 'company_id', 'CASCADE')
        name = pw.CharField(max_length=200)
        connection = fk(migrator, 'connection', 'connection_id', 'SET NULL', null=True)
        contact_list = fk(migrator, 'contact_list', 'contact_list_id', 'SET NULL', null=True)
        tag = fk(migrator, 'tag', 'tag_id', 'SET NULL', null=True)
        contact_ids = pw.TextField(null=True)
        messages = pw.TextField()
        media_url = pw.TextField(null=True)
        scheduled_at = pw.DateTimeField(null=True)
        cron = pw.CharField(max_length=100, null=True)
        timezone = pw.CharField(default='UTC', max_length=64)
        throttle = pw.TextField()
        status = pw.CharField(default='draft', max_length=10)
        reason = pw.TextField(null=True)
        pump_seq = pw.IntegerField(default=0)
        dispatched = pw.IntegerField(default=0)
        next_pump_at = pw.DateTimeField(null=True)
        started_at = pw.DateTimeField(null=True)
        finished_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "campaign"
            indexes = [(('company', 'created_at'), False), (('status', 'scheduled_at'), False)]

    @migrator.create_model
    class CampaignShipping(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        campaign = fk(migrator, 'campaign', 'campaign_id', 'CASCADE')
        contact = fk(migrator, 'contact', 'contact_id', 'CASCADE')
        message = fk(migrator, 'message', 'message_id', 'SET NULL', null=True)
        status = pw.CharField(default='queued', max_length=10)
        reason = pw.CharField(max_length=100, null=True)
        variant = pw.SmallIntegerField(null=True)
        sent_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "campaign_shipping"
            indexes = [(('campaign', 'contact'), True), (('campaign', 'status', 'id'), False)]

    @migrator.create_model
    class Schedule(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = fk(migrator, 'company', 'company_id', 'CASCADE')
        connection = fk(migrator, 'connection', 'connection_id', 'SET NULL', null=True)
        contact = fk(migrator, 'contact', 'contact_id', 'CASCADE', null=True)
        to = pw.CharField(max_length=64, null=True)
        user = fk(migrator, 'user', 'user_id', 'SET NULL', null=True)
        body = pw.TextField(default='')
        media_url = pw.TextField(null=True)
        send_at = pw.DateTimeField()
        cron = pw.CharField(max_length=100, null=True)
        timezone = pw.CharField(default='UTC', max_length=64)
        status = pw.CharField(default='pending', max_length=10)
        reason = pw.TextField(null=True)
        last_run_at = pw.DateTimeField(null=True)
        run_count = pw.IntegerField(default=0)

        class Meta:
            table_name = "schedule"
            indexes = [(('status', 'send_at'), False), (('company', 'status', 'send_at'), False)]

    @migrator.create_model
    class ScheduleRun(pw.Model):
        id = pw.AutoField()
        schedule = fk(migrator, 'schedule', 'schedule_id', 'CASCADE')
        message = fk(migrator, 'message', 'message_id', 'SET NULL', null=True)
        due_at = pw.DateTimeField()
        status = pw.CharField(max_length=10)
        error = pw.TextField(null=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "schedule_run"
            indexes = [(('schedule', 'due_at'), True)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table in ("schedule_run", "schedule", "campaign_shipping", "campaign"):
        migrator.remove_model(table)
