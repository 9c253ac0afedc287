"""SLA misses (db/sla.py): once a minute the scheduler finds the tickets past a due time of their policy (no first answer
to a contact who wrote first by then, or not closed by then) and records each miss once, in the ticket's history, announced as
`ticket:update` with `slaMissed`, and tells the ticket's agent and the company's admins and supervisors
(`sla_missed` notifications, e-mailed unless they turned that off). Then the company's `sla_missed` automation rules
run on each new miss: the miss is written `rules_pending` with them, and stays so until they have run, so that a crash
between the two leaves them to the next minute's run (each rule runs once per miss: workers/automations.py)."""

from __future__ import annotations

import datetime as dt

import dramatiq
import peewee
from peewee import fn

from api.schemas import iso_utc
from db.automations import AutomationRule, companies_with_rules
from db.base import utcnow
from db.messages import contact_wrote_first
from db.sla import SLA_KINDS
from db.tickets import SlaMiss, Ticket
from db.users import User
from workers.automations import active_rules, run_event_rules
from workers.maintenance import change_in_batches
from workers.notifications import notify

DUE = {"first_response": Ticket.first_response_due_at, "resolution": Ticket.resolution_due_at}
RULES_BATCH = 500  # misses whose automation rules one run does
WINDOW = dt.timedelta(days=1)  # a due time that passed longer ago was judged then (the job runs every minute)


def overdue(kind: str) -> peewee.ModelSelect:
    """The tickets whose `kind` due time passed (lately) unmet, not recorded as missing it yet: not closed by then,
    and for a first response, a contact who wrote first not answered by then either (an answer or a close that came
    after it, before this job ran, does not undo the miss)."""
    due, now = DUE[kind], utcnow()
    unmet = Ticket.closed_at.is_null() | (Ticket.closed_at > due)
    if kind == "first_response":
        unmet &= (Ticket.first_response_at.is_null() | (Ticket.first_response_at > due)) & contact_wrote_first()
    recorded = SlaMiss.select().where(SlaMiss.ticket == Ticket.id, SlaMiss.kind == kind)
    return Ticket.select().where(due.between(now - WINDOW, now), unmet, ~fn.EXISTS(recorded))


def told_of_miss(ticket: Ticket) -> list[int]:
    """The ticket's agent, and the company's active admins and supervisors."""
    managers = User.select(User.id).where(User.company == ticket.company_id, User.active == True,  # noqa: E712
                                          User.role.in_(("admin", "supervisor")))
    return ([ticket.user_id] if ticket.user_id else []) + [user.id for user in managers]


def record_misses(tickets: list[Ticket], kind: str) -> None:
    automated = companies_with_rules({ticket.company_id for ticket in tickets}, "sla_missed") if tickets else set()
    for ticket in tickets:
        due_at = getattr(ticket, DUE[kind].name)
        SlaMiss.insert(ticket=ticket.id, kind=kind, due_at=due_at,
                       rules_pending=ticket.company_id in automated).execute()
        ticket.record("sla_missed", None, target=kind, dueAt=iso_utc(due_at))
        notify(told_of_miss(ticket), "sla_missed", ticket, target=kind, dueAt=iso_utc(due_at))


def run_pending_rules() -> int:
    """The `sla_missed` rules of the misses still pending them, oldest first and up to `RULES_BATCH` a run (the next
    run takes the rest), as the companies' rules are now; returns how many misses were done."""
    rules: dict[int, list[AutomationRule]] = {}
    done = 0
    pending = SlaMiss.select(SlaMiss, Ticket).join(Ticket).where(SlaMiss.rules_pending == True)  # noqa: E712
    for miss in list(pending.order_by(SlaMiss.id).limit(RULES_BATCH)):
        company_id = miss.ticket.company_id
        if company_id not in rules:
            rules[company_id] = active_rules(company_id, ("sla_missed",))
        run_event_rules(rules[company_id], miss.ticket, sla_miss=miss)
        SlaMiss.update(rules_pending=False).where(SlaMiss.id == miss.id).execute()
        done += 1
    return done


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def record_sla_misses() -> dict[str, int]:
    """Every company's new misses, by kind (a ticket's miss is recorded once: its row locked, then found recorded),
    and `automated`: the misses whose automation rules ran."""
    recorded = {kind: change_in_batches(overdue(kind), lambda batch, kind=kind: record_misses(batch, kind),
                                        slaMissed=kind) for kind in SLA_KINDS}
    return {**recorded, "automated": run_pending_rules()}
