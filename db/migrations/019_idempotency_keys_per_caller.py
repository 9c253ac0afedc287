"""019: an Idempotency-Key belongs to the caller who sent it (a user, or a program's API key), not to the
whole company, so one caller's key never replays another's answer (api/idempotency.py).

The keys already claimed stay, with no caller (""): they match no request and expire within 24 hours
(`workers/maintenance.py`). A request retried across the upgrade therefore runs again instead of replaying.
"""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("idempotency_key", caller=pw.CharField(max_length=40, default=""))
    # Raw SQL: the index names are the model's (`idempotencykey_...`), not the table's, which
    # migrator.add_index and drop_index would use; `indexes` keeps the state `makemigration` diffs against.
    migrator.sql('DROP INDEX "idempotencykey_company_id_key"')
    migrator.sql(
        'CREATE UNIQUE INDEX "idempotencykey_company_id_caller_key" '
        'ON "idempotency_key" ("company_id", "caller", "key")'
    )
    migrator.orm["idempotency_key"]._meta.indexes = [(("company", "caller", "key"), True)]


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    # Back to one key per company: of a key several callers hold, the oldest claim stays.
    migrator.sql(
        'DELETE FROM "idempotency_key" WHERE EXISTS (SELECT 1 FROM "idempotency_key" AS "first" '
        'WHERE "first"."company_id" = "idempotency_key"."company_id" '
        'AND "first"."key" = "idempotency_key"."key" AND "first"."id" < "idempotency_key"."id")'
    )
    migrator.sql('DROP INDEX "idempotencykey_company_id_caller_key"')
    migrator.sql(
        'CREATE UNIQUE INDEX "idempotencykey_company_id_key" ON "idempotency_key" ("company_id", "key")'
    )
    migrator.orm["idempotency_key"]._meta.indexes = [(("company", "key"), True)]
    migrator.remove_fields("idempotency_key", "caller")
