"""048: notes on a contact (`contact_note`): what agents write down about a customer across their conversations."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class ContactNote(pw.Model):
        id = pw.AutoField()
        contact = pw.ForeignKeyField(column_name="contact_id", field="id", model=migrator.orm["contact"],
                                     on_delete="CASCADE")
        user = pw.ForeignKeyField(column_name="user_id", field="id", model=migrator.orm["user"], null=True,
                                  on_delete="SET NULL")
        body = pw.TextField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "contact_note"
            indexes = ((("contact", "created_at"), False),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("contact_note")
