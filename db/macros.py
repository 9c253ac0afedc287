"""Macros: a named run of actions an agent applies to a ticket in one go, as Chatwoot's macros (send a reply, tag,
transfer, close...). Company-wide when `user` is None, else personal: only their author sees and runs them."""

from __future__ import annotations

import peewee

from db.base import JSONField, TimestampedModel
from db.companies import Company
from db.users import User


class Macro(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="macros", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    # [{"type": "send_message", "body": "..."}, {"type": "close"}...]: api/resources/macros.py's MacroAction
    actions = JSONField()

    class Meta:
        indexes = ((("company", "name"), False),)
