"""Automation rules, as Chatwoot's: when an event happens on a ticket (a contact's message opens one, or comes in
on one, it misses a target of its SLA policy, or it is closed) and the rule's conditions hold, its actions are done on
the ticket with no one clicking ("a ticket from +1 numbers goes to the English queue", "a message that says `cancel`
makes the ticket urgent and tags it", "a ticket that missed its first answer goes to the supervisors' queue", "a
closed Sales ticket is sent the catalogue").

`AutomationRun` is a rule's run on one message, SLA miss or closing: written in the transaction of the actions it did,
so that a cause handled again after a crash finds it and does them no second time; and the log of what each rule
did."""

from __future__ import annotations

from collections.abc import Collection

import peewee

from db.base import BaseModel, JSONField, TimestampedModel, utcnow
from db.companies import Company
from db.messages import Message
from db.tickets import SlaMiss, Ticket, TicketEvent

MESSAGE_EVENTS = ("ticket_created", "message_received")
AUTOMATION_EVENTS = (*MESSAGE_EVENTS, "sla_missed", "ticket_closed")
RUN_STATUSES = ("done", "failed")


class AutomationRule(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="automation_rules", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    description = peewee.TextField(default="")
    event = peewee.CharField(max_length=20)  # AUTOMATION_EVENTS
    match = peewee.CharField(max_length=3, default="all")  # all or any of the conditions
    # [{"attribute": "body", "operator": "contains", "values": ["cancel"]}...]: api/resources/automations.py
    conditions = JSONField(default=list)
    actions = JSONField()  # as a macro's (api/resources/macros.py's MacroAction), without `read`
    active = peewee.BooleanField(default=True)

    class Meta:
        table_name = "automation_rule"
        indexes = ((("company", "event", "active"), False),)


class AutomationRun(BaseModel):
    rule = peewee.ForeignKeyField(AutomationRule, backref="runs", on_delete="CASCADE")
    ticket = peewee.ForeignKeyField(Ticket, on_delete="CASCADE")
    message = peewee.ForeignKeyField(Message, null=True, on_delete="CASCADE")  # of a message's event
    sla_miss = peewee.ForeignKeyField(SlaMiss, null=True, on_delete="CASCADE")  # of `sla_missed`
    closing = peewee.ForeignKeyField(TicketEvent, null=True, on_delete="CASCADE")  # of `ticket_closed`: its history
    status = peewee.CharField(max_length=10)  # RUN_STATUSES
    failed_action = peewee.IntegerField(null=True)  # its place in the rule's actions, from 0
    error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "automation_run"
        indexes = ((("rule", "message"), True), (("rule", "sla_miss"), True), (("rule", "closing"), True),
                   (("rule", "created_at"), False))

    @property
    def sla_target(self) -> str | None:
        """The target missed, of a run on an SLA miss (read with the miss joined, to spare a query a run)."""
        return self.sla_miss.kind if self.sla_miss_id else None


def companies_with_rules(company_ids: Collection[int], event: str) -> set[int]:
    """Those of the companies that have active rules of the event."""
    rows = AutomationRule.select(AutomationRule.company).distinct().where(
        AutomationRule.company.in_(list(company_ids)), AutomationRule.event == event,
        AutomationRule.active == True)  # noqa: E712
    return {row.company_id for row in rows}
