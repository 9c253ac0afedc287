"""011: each company's AI provider (base URL, default model, encrypted API key) for flows' AI replies."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class AiSettings(pw.Model):
        id = pw.AutoField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        company = pw.ForeignKeyField(
            column_name="company_id",
            field="id",
            model=migrator.orm["company"],
            on_delete="CASCADE",
            unique=True,
        )
        base_url = pw.CharField(default="https://api.openai.com/v1", max_length=2048)
        default_model = pw.CharField(default="gpt-4o-mini", max_length=100)
        api_key_encrypted = pw.TextField(null=True)
        api_key_hint = pw.CharField(max_length=4, null=True)

        class Meta:
            table_name = "ai_settings"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("ai_settings")
