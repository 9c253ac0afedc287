"""Service-level agreements, as Chatwoot's SLA policies: how soon a ticket must get its first answer, each next answer
and be resolved. A policy applied to a ticket (by a manager, a program or an automation rule) fixes its first-response
and resolution due times from when it opened, and its next-response due time from each wait of the contact's (their
first message since our last answer, once the first was given: `Ticket.waiting_since`, kept by the scheduler), in
calendar time or, `business_hours_only`, in its queue's open time (re-timed when the ticket changes queue); a ticket
that passes one is recorded as a miss (`SlaMiss`, db/tickets.py) by the scheduler (workers/sla.py)."""

from __future__ import annotations

import datetime as dt

import peewee

from db.base import TimestampedModel
from db.companies import Company
from db.queue_rules import HasRules, open_time_after

SLA_KINDS = ("first_response", "next_response", "resolution")


def due_after(start: dt.datetime, minutes: int | None, open_hours_of: HasRules | None = None,
              timezone: str = "UTC") -> dt.datetime | None:
    """`minutes` after `start`, in calendar time or in the open time of a queue's business hours (`open_hours_of`, read
    in `timezone`); None for no target, or for one that a queue open too little would not reach within a year."""
    if not minutes:
        return None
    if open_hours_of is not None:
        return open_time_after(open_hours_of, start, minutes, timezone)
    return start + dt.timedelta(minutes=minutes)


class SlaPolicy(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="sla_policies", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    description = peewee.TextField(default="")
    first_response_minutes = peewee.IntegerField(null=True)  # None: no first-response target
    next_response_minutes = peewee.IntegerField(null=True)  # None: no next-response target
    resolution_minutes = peewee.IntegerField(null=True)  # None: no resolution target
    business_hours_only = peewee.BooleanField(default=False)  # the clock stops while the ticket's queue is closed

    class Meta:
        table_name = "sla_policy"
        indexes = ((("company", "name"), True),)

    def due_times(self, opened_at: dt.datetime, open_hours_of: HasRules | None = None,
                  timezone: str = "UTC") -> tuple[dt.datetime | None, dt.datetime | None]:
        """The first-response and resolution due times of a ticket opened at `opened_at` (`due_after`)."""
        return (due_after(opened_at, self.first_response_minutes, open_hours_of, timezone),
                due_after(opened_at, self.resolution_minutes, open_hours_of, timezone))
