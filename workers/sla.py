"""SLA misses (db/sla.py): once a minute the scheduler finds the live tickets past a due time of their policy (no first
answer to a contact who wrote first, or not resolved) and records each miss once, in the ticket's history, announced as
`ticket:update` with `slaMissed`, and tells the ticket's agent and the company's admins and supervisors
(`sla_missed` notifications, e-mailed unless they turned that off)."""

from __future__ import annotations

import dramatiq
import peewee
from peewee import fn

from api.schemas import iso_utc
from db.base import utcnow
from db.messages import contact_wrote_first
from db.sla import SLA_KINDS
from db.tickets import SlaMiss, Ticket
from db.users import User
from workers.maintenance import change_in_batches
from workers.notifications import notify

DUE = {"first_response": Ticket.first_response_due_at, "resolution": Ticket.resolution_due_at}
UNMET = {"first_response": lambda: Ticket.first_response_at.is_null() & contact_wrote_first(),
         "resolution": lambda: True}


def overdue(kind: str) -> peewee.ModelSelect:
    """The live tickets past their `kind` due time, unmet, and not recorded as missing it yet."""
    recorded = SlaMiss.select().where(SlaMiss.ticket == Ticket.id, SlaMiss.kind == kind)
    return Ticket.select().where(Ticket.status != "closed", DUE[kind] < utcnow(), UNMET[kind](), ~fn.EXISTS(recorded))


def told_of_miss(ticket: Ticket) -> list[int]:
    """The ticket's agent, and the company's active admins and supervisors."""
    managers = User.select(User.id).where(User.company == ticket.company_id, User.active == True,  # noqa: E712
                                          User.role.in_(("admin", "supervisor")))
    return ([ticket.user_id] if ticket.user_id else []) + [user.id for user in managers]


def record_misses(tickets: list[Ticket], kind: str) -> None:
    for ticket in tickets:
        due_at = iso_utc(getattr(ticket, DUE[kind].name))
        SlaMiss.insert(ticket=ticket.id, kind=kind, due_at=getattr(ticket, DUE[kind].name)).execute()
        ticket.record("sla_missed", None, target=kind, dueAt=due_at)
        notify(told_of_miss(ticket), "sla_missed", ticket, target=kind, dueAt=due_at)


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def record_sla_misses() -> dict[str, int]:
    """Every company's new misses, by kind; a ticket's miss is recorded once (its row locked, then found recorded)."""
    return {kind: change_in_batches(overdue(kind), lambda batch, kind=kind: record_misses(batch, kind), slaMissed=kind)
            for kind in SLA_KINDS}
