"""SLA misses (db/sla.py): once a minute the scheduler finds the tickets past a due time of their policy (no first answer
to a contact who wrote first by then, no answer to a contact waiting for one by then, or not closed by then) and records
each miss once, in the ticket's history, announced as `ticket:update` with `slaMissed`, and tells the ticket's agent and
the company's admins and supervisors (`sla_missed` notifications, e-mailed unless they turned that off). Then the
company's `sla_missed` automation rules run on each new miss: the miss is written `rules_pending` with them, and stays
so until they have run, so that a crash between the two leaves them to the next minute's run (each rule runs once per
miss: workers/automations.py).

The same run first keeps each wait of the contacts' (`track_waits`): the contact's first message since our agents' last
answer, on a live ticket whose policy has a next-response target, and when the next answer is due, announced as
`ticket:update`; an answer (or a new wait) is seen within the minute, and a miss is judged on the wait it ends."""

from __future__ import annotations

import datetime as dt

import dramatiq
import peewee
from peewee import fn

from api.schemas import iso_utc
from db.automations import AutomationRule, companies_with_rules
from db.base import in_id_batches, utcnow
from db.messages import Message, contact_wrote_first, first_asked, is_agent_answer, last_answer
from db.sla import SLA_KINDS, SlaPolicy, due_after
from db.tickets import SLA_DUE, SLA_TIMES, SlaMiss, SlaWait, Ticket
from db.users import User
from workers.automations import active_rules, run_event_rules
from workers.events import announcing
from workers.jobs import enqueue_job
from workers.maintenance import announce_updates, change_in_batches
from workers.notifications import notify

RULES_BATCH = 500  # misses whose automation rules one run does
WAITS_BATCH = 500  # waits changed in one transaction
WINDOW = dt.timedelta(days=1)  # a due time that passed longer ago was judged then (the job runs every minute)


def overdue(kind: str) -> peewee.ModelSelect:
    """The tickets whose `kind` due time passed (lately) unmet, not recorded as missing it yet: not closed by then,
    and for a first response, a contact who wrote first not answered by then either; for a next response, the
    contact's wait not answered by then (each wait judged once: its due time). An answer or a close that came after
    the due time, before this job ran, does not undo the miss."""
    due, now = SLA_DUE[kind], utcnow()
    unmet = Ticket.closed_at.is_null() | (Ticket.closed_at > due)
    recorded = (SlaMiss.ticket == Ticket.id) & (SlaMiss.kind == kind)
    if kind == "first_response":
        unmet &= (Ticket.first_response_at.is_null() | (Ticket.first_response_at > due)) & contact_wrote_first()
    elif kind == "next_response":
        answer = Message.alias()
        in_time = answer.select().where(answer.ticket == Ticket.id, is_agent_answer(answer),
                                        answer.sent_at > Ticket.waiting_since, answer.sent_at <= due)
        unmet &= ~fn.EXISTS(in_time)
        recorded &= SlaMiss.due_at == due
    return Ticket.select().where(due.between(now - WINDOW, now), unmet, ~fn.EXISTS(SlaMiss.select().where(recorded)))


def waits() -> peewee.ModelSelect:
    """The live tickets whose policy has a next-response target and that our agents answered, each with `waits_since`:
    the contact's first message since the last answer (None: the contact waits for none)."""
    answered_at = last_answer(Ticket.id)
    return (Ticket.select(Ticket, SlaPolicy, first_asked(Ticket.id, after=answered_at).alias("waits_since"))
            .join(SlaPolicy)
            .where(SlaPolicy.next_response_minutes.is_null(False), Ticket.status != "closed",
                   peewee.Expression(answered_at, "IS NOT", None)))


def track_waits() -> int:
    """Keep each ticket's wait (`waiting_since`) and when its answer is due, as `waits` finds them now; a wait that
    ended otherwise (the ticket closed, its policy changed) is cleared. A wait that ended is kept as an `SlaWait`, with
    when its answer was due, for the analytics. Each change announced as `ticket:update`; returns how many changed."""
    changes: dict[int, tuple[dt.datetime | None, dt.datetime | None]] = {}
    ended: dict[int, tuple[dt.datetime, dt.datetime]] = {}  # ticket id: the wait that ended (since, due)
    tracked = set()
    for ticket in waits():
        tracked.add(ticket.id)
        since = Ticket.waiting_since.python_value(ticket.waits_since)
        if since != ticket.waiting_since:
            minutes = ticket.sla_policy.next_response_minutes
            changes[ticket.id] = (since, due_after(since, minutes, *ticket.sla_hours()) if since else None)
            if ticket.waiting_since is not None:
                ended[ticket.id] = (ticket.waiting_since, ticket.next_response_due_at)
    for row in Ticket.select(Ticket.id, Ticket.waiting_since, Ticket.next_response_due_at).where(
            Ticket.waiting_since.is_null(False)):
        if row.id not in tracked:
            changes[row.id], ended[row.id] = (None, None), (row.waiting_since, row.next_response_due_at)
    ticket_ids = sorted(changes)
    for start in range(0, len(ticket_ids), WAITS_BATCH):
        batch = ticket_ids[start:start + WAITS_BATCH]
        with announcing() as announcements:  # the changes' webhooks commit with them
            for ticket_id in batch:
                since, due = changes[ticket_id]
                Ticket.update(waiting_since=since, next_response_due_at=due).where(Ticket.id == ticket_id).execute()
            waits_over = [(ticket_id, *ended[ticket_id]) for ticket_id in batch
                          if ticket_id in ended and ended[ticket_id][1] is not None]
            if waits_over:
                SlaWait.insert_many(waits_over, fields=[SlaWait.ticket, SlaWait.since, SlaWait.due_at]).on_conflict_ignore(
                    ).execute()
            announce_updates(announcements, list(Ticket.select().where(Ticket.id.in_(batch))))
    return len(changes)


@dramatiq.actor(queue_name="maintenance", max_retries=5)
def retime_sla_tickets(scope: str, scope_id: int) -> dict[str, int]:
    """Re-time the live tickets of an SLA policy whose targets or clock changed (`scope` "policy"), or those a
    business-hours policy times in a queue whose hours changed ("queue") or in a company whose timezone changed
    ("company"), as Chatwoot's policies apply as they are now; each ticket whose due times moved is announced as
    `ticket:update`. A miss recorded before stays. Doing it again changes nothing more."""
    live = Ticket.select(Ticket, SlaPolicy).join(SlaPolicy).where(Ticket.status != "closed")
    if scope == "policy":
        live = live.where(Ticket.sla_policy == scope_id)
    else:
        by_hours = SlaPolicy.business_hours_only == True  # noqa: E712
        live = live.where(by_hours, (Ticket.queue if scope == "queue" else Ticket.company) == scope_id)
    retimed = 0
    for batch in in_id_batches(live, WAITS_BATCH):
        with announcing() as announcements:
            moved = []
            for ticket in batch:
                before = [getattr(ticket, field.name) for field in SLA_TIMES]
                ticket.time_sla()
                if [getattr(ticket, field.name) for field in SLA_TIMES] != before:
                    ticket.save(only=SLA_TIMES)
                    moved.append(ticket)
            announce_updates(announcements, moved)
        retimed += len(moved)
    return {"retimed": retimed}


def enqueue_retiming(scope: str, scope_id: int, company_id: int, user_id: int | None) -> None:
    """`retime_sla_tickets(scope, scope_id)` as a tracked job: a crash before it ran loses none (`enqueue_job`)."""
    enqueue_job(retime_sla_tickets, scope, scope_id, company_id=company_id, user_id=user_id)


def told_of_miss(ticket: Ticket) -> list[int]:
    """The ticket's agent, and the company's active admins and supervisors."""
    managers = User.select(User.id).where(User.company == ticket.company_id, User.active == True,  # noqa: E712
                                          User.role.in_(("admin", "supervisor")))
    return ([ticket.user_id] if ticket.user_id else []) + [user.id for user in managers]


def record_misses(tickets: list[Ticket], kind: str) -> None:
    automated = companies_with_rules({ticket.company_id for ticket in tickets}, "sla_missed") if tickets else set()
    for ticket in tickets:
        due_at = getattr(ticket, SLA_DUE[kind].name)
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
    then `waits`: the tickets whose wait changed (judged first, so a wait that ended is judged as it was), and
    `automated`: the misses whose automation rules ran."""
    recorded = {kind: change_in_batches(overdue(kind), lambda batch, kind=kind: record_misses(batch, kind),
                                        slaMissed=kind) for kind in SLA_KINDS}
    return {**recorded, "waits": track_waits(), "automated": run_pending_rules()}
