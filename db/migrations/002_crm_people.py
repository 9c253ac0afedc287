"""002: the audit log, and each user's own preferences."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("user", preferences=pw.TextField(default="{}"))

    @migrator.create_model
    class AuditLog(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'], null=True,
                                     on_delete='CASCADE')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['user'], null=True,
                                  on_delete='SET NULL')
        user_name = pw.CharField(default='', max_length=200)
        action = pw.CharField(max_length=20)
        entity = pw.CharField(max_length=50)
        entity_id = pw.IntegerField(null=True)
        before = pw.TextField(null=True)
        after = pw.TextField(null=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "audit_log"
            indexes = [(('company', 'created_at'), False), (('entity', 'entity_id'), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('audit_log')
    migrator.remove_fields("user", "preferences")
