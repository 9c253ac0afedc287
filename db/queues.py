"""Queues (departments) that route tickets, and their members."""

import peewee

from db.base import BaseModel, JSONField, TimestampedModel
from db.companies import Company
from db.users import User


class Queue(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="queues", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    color = peewee.CharField(max_length=9, default="#7c7c7c")
    greeting = peewee.TextField(default="")
    priority = peewee.IntegerField(default=0)
    # {"mon": [["08:00", "18:00"]], ...}; empty means always open. Read in the company's timezone.
    business_hours = JSONField(default=dict)
    # {"2026-12-25": [], "2026-12-24": [["08:00", "12:00"]]}: a local date's hours instead of its weekday's
    special_days = JSONField(default=dict)
    out_of_hours_message = peewee.TextField(default="")
    menu_options = JSONField(default=list)
    auto_assign = peewee.BooleanField(default=False)  # waiting tickets go to an available agent (workers/assignment.py)

    class Meta:
        indexes = ((("company", "name"), True),)


class UserQueue(BaseModel):
    user = peewee.ForeignKeyField(User, backref="queue_links", on_delete="CASCADE")
    queue = peewee.ForeignKeyField(Queue, backref="user_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("user", "queue"), True),)
