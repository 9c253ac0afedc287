"""Writing the audit log from handlers: one call per administrative change.

`log_change` snapshots a row (secrets left out) and records who did it. Updates keep only the
fields that changed, so the log answers "what did this change do" without a diff by hand.
"""

from __future__ import annotations

from typing import Any

import peewee
from flask import g, has_app_context
from playhouse.shortcuts import model_to_dict

from db.audit import AuditLog
from db.companies import Company

SECRET_FIELDS = frozenset({"password_hash", "key_hash", "mfa_secret_encrypted", "mfa_recovery_hashes",
                           "mfa_last_step"})


def snapshot(row: peewee.Model, **extra: Any) -> dict[str, Any]:
    """The row's own columns as JSON-able values, secrets left out (foreign keys as ids), plus `extra`
    for what lives in other tables (a user's queues)."""
    values = model_to_dict(row, recurse=False)
    columns = {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in values.items()
        if name not in SECRET_FIELDS and name not in {"created_at", "updated_at"}
    }
    return {**columns, **extra}


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, on each side."""
    keys = [key for key in before.keys() | after.keys() if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in sorted(keys)}, {key: after.get(key) for key in sorted(keys)}


def record(
    action: str,
    entity: str,
    entity_id: int | None,
    company_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog | None:
    """One audit row by the caller; an update that changed nothing is not recorded."""
    if action == "updated":
        before, after = changed_fields(before or {}, after or {})
        if not after and not before:
            return None
    principal = g.get("principal") if has_app_context() else None  # none in the server's shell (`wharf ...`)
    return AuditLog.create(
        company=company_id,
        user=principal.user.id if principal and principal.user else None,
        user_name=principal.name if principal else "",
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=before,
        after=after,
    )


def company_of(row: peewee.Model, action: str) -> int | None:
    """The company whose admins see this change; a deleted company's log stays installation-wide."""
    if isinstance(row, Company):
        return None if action == "deleted" else row.id
    return getattr(row, "company_id", None)


def log_change(action: str, row: peewee.Model, before: dict[str, Any] | None = None, **extra: Any) -> AuditLog | None:
    """Record that `row` was created, updated (pass its `snapshot` from before) or deleted (call before deleting)."""
    current = snapshot(row, **extra)
    if action == "deleted":
        before, current = current, None
    return record(action, row._meta.table_name, row.id, company_of(row, action), before, current)
