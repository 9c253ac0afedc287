"""042: macros (`macro`), a named run of actions on a ticket, company-wide or an agent's own (`user`)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Macro(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name="company_id", field="id", model=migrator.orm["company"],
                                     on_delete="CASCADE")
        user = pw.ForeignKeyField(column_name="user_id", field="id", model=migrator.orm["user"], null=True,
                                  on_delete="CASCADE")
        name = pw.CharField(max_length=100)
        actions = pw.TextField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "macro"
            indexes = ((("company", "name"), False),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("macro")
