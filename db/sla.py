"""Service-level agreements, as Chatwoot's SLA policies: how soon a ticket must get its first answer and be resolved.
A policy applied to a ticket (by a manager, a program or an automation rule) fixes its due times from when it opened;
a ticket that passes one is recorded as a miss (`SlaMiss`, db/tickets.py) by the scheduler (workers/sla.py)."""

from __future__ import annotations

import peewee

from db.base import TimestampedModel
from db.companies import Company

SLA_KINDS = ("first_response", "resolution")


class SlaPolicy(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="sla_policies", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    description = peewee.TextField(default="")
    first_response_minutes = peewee.IntegerField(null=True)  # None: no first-response target
    resolution_minutes = peewee.IntegerField(null=True)  # None: no resolution target

    class Meta:
        table_name = "sla_policy"
        indexes = ((("company", "name"), True),)
