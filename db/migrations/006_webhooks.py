"""006: webhook subscriptions and their delivery log."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Webhook(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'],
                                     on_delete='CASCADE')
        url = pw.CharField(max_length=2048)
        events = pw.TextField()
        secret = pw.CharField(max_length=128)
        enabled = pw.BooleanField(default=True)
        description = pw.CharField(default='', max_length=500)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "webhook"

    @migrator.create_model
    class WebhookDelivery(pw.Model):
        id = pw.AutoField()
        webhook = pw.ForeignKeyField(column_name='webhook_id', field='id', model=migrator.orm['webhook'],
                                     on_delete='CASCADE', index=False)
        event = pw.CharField(max_length=60)
        payload = pw.TextField()
        status = pw.CharField(default='pending', max_length=10)
        attempts = pw.IntegerField(default=0)
        last_status_code = pw.IntegerField(null=True)
        last_error = pw.TextField(null=True)
        response_excerpt = pw.TextField(null=True)
        duration_ms = pw.IntegerField(null=True)
        redelivery_of = pw.ForeignKeyField(column_name='redelivery_of_id', field='id', model='self', null=True,
                                           on_delete='SET NULL', index=False)
        created_at = pw.DateTimeField(index=True)
        last_attempt_at = pw.DateTimeField(null=True)
        delivered_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "webhook_delivery"
            indexes = [(('webhook', 'id'), False), (('webhook', 'status', 'id'), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('webhook_delivery')
    migrator.remove_model('webhook')
