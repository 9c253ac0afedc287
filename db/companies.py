"""Tenants: plans, companies and each company's typed settings."""

import peewee

from db.base import BaseModel, JSONField, TimestampedModel


class Plan(TimestampedModel):
    """What a company may have: the limits are enforced when a record would go over them."""

    name = peewee.CharField(max_length=100, unique=True)
    max_users = peewee.IntegerField(default=10)
    max_connections = peewee.IntegerField(default=3)
    max_campaigns = peewee.IntegerField(default=20)
    price_cents = peewee.IntegerField(default=0)
    active = peewee.BooleanField(default=True)


class Company(TimestampedModel):
    name = peewee.CharField(max_length=200)
    plan = peewee.ForeignKeyField(Plan, null=True, backref="companies", on_delete="SET NULL")
    status = peewee.CharField(max_length=20, default="active", index=True)  # active | suspended
    timezone = peewee.CharField(max_length=64, default="UTC")
    default_country = peewee.CharField(max_length=2, default="BR")
    email = peewee.CharField(max_length=254, null=True)


class Setting(BaseModel):
    """A company's key/value setting; the value is JSON so it keeps its type."""

    company = peewee.ForeignKeyField(Company, backref="settings", on_delete="CASCADE")
    key = peewee.CharField(max_length=100)
    value = JSONField(null=True)

    class Meta:
        indexes = ((("company", "key"), True),)
