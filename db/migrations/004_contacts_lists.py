"""004: contacts' custom field definitions, contact lists with their items, and the rows an import rejected."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class ContactField(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'],
                                     on_delete='CASCADE')
        key = pw.CharField(max_length=50)
        label = pw.CharField(max_length=100)
        type = pw.CharField(default='text', max_length=10)

        class Meta:
            table_name = "contact_field"
            indexes = [(('company', 'key'), True)]

    @migrator.create_model
    class ContactList(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'],
                                     on_delete='CASCADE')
        name = pw.CharField(max_length=100)

        class Meta:
            table_name = "contact_list"
            indexes = [(('company', 'name'), True)]

    @migrator.create_model
    class ContactListItem(pw.Model):
        id = pw.AutoField()
        contact_list = pw.ForeignKeyField(column_name='contact_list_id', field='id',
                                          model=migrator.orm['contact_list'], on_delete='CASCADE')
        contact = pw.ForeignKeyField(column_name='contact_id', field='id', model=migrator.orm['contact'],
                                     on_delete='CASCADE')
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "contact_list_item"
            indexes = [(('contact_list', 'contact'), True)]

    @migrator.create_model
    class ImportRowError(pw.Model):
        id = pw.AutoField()
        job = pw.ForeignKeyField(column_name='job_id', field='id', model=migrator.orm['job'], on_delete='CASCADE',
                                 index=False)
        line = pw.IntegerField()
        message = pw.TextField()
        cells = pw.TextField()

        class Meta:
            table_name = "import_row_error"
            indexes = [(('job', 'line'), False)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('import_row_error')
    migrator.remove_model('contact_list_item')
    migrator.remove_model('contact_list')
    migrator.remove_model('contact_field')
