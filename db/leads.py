"""Leads: people the company hopes to sell to, from first touch to won or lost."""

import peewee

from db.base import TimestampedModel
from db.companies import Company
from db.contacts import Contact
from db.users import User

LEAD_STATUSES = ("new", "contacted", "qualified", "proposal", "won", "lost")
LEAD_SOURCES = ("website", "referral", "campaign", "whatsapp", "manual", "other")
LEAD_CATEGORIES = ("hot", "warm", "cold")


class Lead(TimestampedModel):
    """One lead of a company; `won_at` is when it last became won (null unless won), for the analytics."""

    company = peewee.ForeignKeyField(Company, backref="leads", on_delete="CASCADE")
    name = peewee.CharField(max_length=200)
    phone = peewee.CharField(max_length=32, null=True)  # E.164, unique per company when given
    email = peewee.CharField(max_length=254, null=True)
    company_name = peewee.CharField(max_length=200, default="")
    status = peewee.CharField(max_length=20, default="new")
    source = peewee.CharField(max_length=20, default="manual")
    category = peewee.CharField(max_length=10, default="warm")
    value = peewee.DecimalField(max_digits=14, decimal_places=2, default=0)
    notes = peewee.TextField(default="")
    next_follow_up_at = peewee.DateTimeField(null=True)
    owner = peewee.ForeignKeyField(User, null=True, backref="leads", on_delete="SET NULL")
    contact = peewee.ForeignKeyField(Contact, null=True, backref="leads", on_delete="SET NULL")
    created_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    won_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("company", "phone"), True),
            (("company", "status"), False),
            (("company", "created_at"), False),
            (("company", "next_follow_up_at"), False),
        )
