"""005: leads, and API keys for programs."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Lead(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'],
                                     on_delete='CASCADE')
        name = pw.CharField(max_length=200)
        phone = pw.CharField(max_length=32, null=True)
        email = pw.CharField(max_length=254, null=True)
        company_name = pw.CharField(default='', max_length=200)
        status = pw.CharField(default='new', max_length=20)
        source = pw.CharField(default='manual', max_length=20)
        category = pw.CharField(default='warm', max_length=10)
        value = pw.DecimalField(decimal_places=2, default=0, max_digits=14)
        notes = pw.TextField(default='')
        next_follow_up_at = pw.DateTimeField(null=True)
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['user'], null=True,
                                   on_delete='SET NULL')
        contact = pw.ForeignKeyField(column_name='contact_id', field='id', model=migrator.orm['contact'], null=True,
                                     on_delete='SET NULL')
        created_by = pw.ForeignKeyField(column_name='created_by_id', field='id', model=migrator.orm['user'],
                                        null=True, on_delete='SET NULL')
        won_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "lead"
            indexes = [(('company', 'phone'), True), (('company', 'status'), False),
                       (('company', 'created_at'), False), (('company', 'next_follow_up_at'), False)]

    @migrator.create_model
    class ApiKey(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'],
                                     on_delete='CASCADE')
        created_by = pw.ForeignKeyField(column_name='created_by_id', field='id', model=migrator.orm['user'],
                                        null=True, on_delete='SET NULL')
        name = pw.CharField(max_length=100)
        prefix = pw.CharField(max_length=16)
        key_hash = pw.CharField(max_length=64, unique=True)
        scopes = pw.TextField()
        expires_at = pw.DateTimeField(null=True)
        last_used_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "api_key"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('api_key')
    migrator.remove_model('lead')
