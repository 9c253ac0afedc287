"""052: two-step login for users (wharf/mfa.py): the authenticator app's secret (encrypted), when it was enabled, the last
code's time step (no code is taken twice) and the hashes of the unused recovery codes."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("user", mfa_secret_encrypted=pw.TextField(null=True), mfa_enabled_at=pw.DateTimeField(null=True),
                        mfa_last_step=pw.BigIntegerField(null=True), mfa_recovery_hashes=pw.TextField(default="[]"))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("user", "mfa_secret_encrypted", "mfa_enabled_at", "mfa_last_step", "mfa_recovery_hashes")
