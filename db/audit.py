"""The audit log: who changed what administrative record, when, and how it looked before and after."""

import peewee

from db.base import BaseModel, JSONField, utcnow
from db.companies import Company
from db.users import User


class AuditLog(BaseModel):
    """One change. `company` is null for installation-wide records (plans); `user_name` outlives the user."""

    company = peewee.ForeignKeyField(Company, null=True, backref="audit_logs", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    user_name = peewee.CharField(max_length=200, default="")
    action = peewee.CharField(max_length=20)  # created | updated | deleted
    entity = peewee.CharField(max_length=50)
    entity_id = peewee.IntegerField(null=True)
    before = JSONField(null=True)
    after = JSONField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("company", "created_at"), False),
            (("entity", "entity_id"), False),
        )
