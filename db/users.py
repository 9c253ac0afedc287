"""People who log in, and their password resets."""

import peewee

from db.base import BaseModel, JSONField, TimestampedModel, utcnow
from db.companies import Company

ROLES = ("super", "admin", "supervisor", "agent")
ONLINE_STATUSES = ("online", "away", "offline")


class User(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="users", on_delete="CASCADE")
    name = peewee.CharField(max_length=200)
    email = peewee.CharField(max_length=254, unique=True)  # stored lower-case: login needs no company
    password_hash = peewee.CharField(max_length=255)
    role = peewee.CharField(max_length=20, default="agent", index=True)
    online_status = peewee.CharField(max_length=10, default="offline")
    max_open_tickets = peewee.IntegerField(null=True)
    permissions = JSONField(default=dict)
    parent = peewee.ForeignKeyField("self", null=True, backref="sub_users", on_delete="SET NULL")
    active = peewee.BooleanField(default=True)
    last_seen_at = peewee.DateTimeField(null=True)
    last_assigned_at = peewee.DateTimeField(null=True)  # the last ticket a queue gave them (workers/assignment.py)
    preferences = JSONField(default=dict)  # only what the user changed; defaults live in api/preferences.py
    # Two-step login (wharf/mfa.py): the authenticator's secret, encrypted; set but not enabled while being set up
    mfa_secret_encrypted = peewee.TextField(null=True)
    mfa_enabled_at = peewee.DateTimeField(null=True)
    mfa_last_step = peewee.BigIntegerField(null=True)  # the time step of the last code taken: none is taken twice
    mfa_recovery_hashes = JSONField(default=list)  # argon2 hashes of the unused recovery codes

    @property
    def mfa_enabled(self) -> bool:
        return self.mfa_enabled_at is not None

    class Meta:
        indexes = ((("company", "role"), False),)


class PasswordReset(BaseModel):
    """One forgot-password attempt: a hashed 6-digit OTP, then a hashed reset token."""

    user = peewee.ForeignKeyField(User, backref="password_resets", on_delete="CASCADE")
    otp_hash = peewee.CharField(max_length=128)
    expires_at = peewee.DateTimeField()
    attempts = peewee.IntegerField(default=0)
    emailed_at = peewee.DateTimeField(null=True)
    verified_at = peewee.DateTimeField(null=True)
    reset_token_hash = peewee.CharField(max_length=128, null=True, unique=True)
    used_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
