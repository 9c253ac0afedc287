"""Reading the audit log: admins see their company's changes, the super admin every change."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint

from api.endpoint import endpoint
from api.pagination import paginate
from api.schemas import OutSchema, PageQuery, UtcDateTime, page_of
from api.security import current_principal
from db.audit import AuditLog

blueprint = Blueprint("audit_logs", __name__, url_prefix="/api/audit-logs")


class AuditLogOut(OutSchema):
    id: int
    company_id: int | None
    user_id: int | None
    user_name: str
    action: str
    entity: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: UtcDateTime


class AuditLogQuery(PageQuery):
    entity: str | None = None
    entity_id: int | None = None
    user_id: int | None = None
    action: Literal["created", "updated", "deleted"] | None = None
    company_id: int | None = None  # the super admin's filter; others always see their own company


@blueprint.get("")
@endpoint(summary="Administrative changes, newest first", tags=["audit"], query=AuditLogQuery,
          response=page_of(AuditLogOut), roles=("super", "admin"))
def list_audit_logs(query: AuditLogQuery):
    principal = current_principal()
    logs = AuditLog.select().order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    if principal.role != "super":
        logs = logs.where(AuditLog.company == principal.company_id)
    elif query.company_id is not None:
        logs = logs.where(AuditLog.company == query.company_id)
    for field, value in ((AuditLog.entity, query.entity), (AuditLog.entity_id, query.entity_id),
                         (AuditLog.user, query.user_id), (AuditLog.action, query.action)):
        if value is not None:
            logs = logs.where(field == value)
    return paginate(logs, query, lambda row: AuditLogOut.model_validate(
        {**row.__data__, "company_id": row.company_id, "user_id": row.user_id}).to_json())
