"""Columns that hold secrets encrypted under ENCRYPTION_SECRET (wharf/encryption.py), and their rotation."""

from __future__ import annotations

import peewee

from wharf.encryption import UndecryptableSecret, reencrypt


def reencrypt_column(column: peewee.Field) -> tuple[int, list[peewee.Model]]:
    """Every stored token of `column` encrypted again under the current ENCRYPTION_SECRET (after a rotation):
    (how many were, the rows whose token decrypts under no secret given, left as they are)."""
    model = column.model
    done, lost = 0, []
    for row in model.select().where(column.is_null(False)):
        try:
            token = reencrypt(getattr(row, column.name))
        except UndecryptableSecret:
            lost.append(row)
            continue
        model.update({column: token}).where(model.id == row.id).execute()
        done += 1
    return done, lost
