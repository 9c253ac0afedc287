"""SLA policies: first-response and resolution targets applied to a ticket (by a manager, a program or an automation
rule), due from when it opened, and a next-response target for each wait of the contact's for an answer; the scheduler
records each target a live ticket misses once (a next response once per wait), in its history, and tells its agent and
the company's managers, by a notification and an e-mail."""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import io
from zoneinfo import ZoneInfo

import pytest

from db.audit import AuditLog
from db.base import utcnow
from db.jobs import Job
from db.notifications import Notification
from db.sla import SlaPolicy
from db.tickets import SlaMiss, SlaWait, Ticket, TicketEvent
from workers.emails import email_notification
from workers.sla import record_sla_misses, retime_sla_tickets


@pytest.fixture
def supervisor(factories, company):
    return factories.user(company, role="supervisor", name="Sara")


@pytest.fixture
def as_supervisor(app, factories, supervisor):
    return factories.auth_headers(app, supervisor)


@pytest.fixture
def agent(factories, company):
    return factories.user(company, role="agent", name="Bia")


@pytest.fixture
def policy(company):
    return SlaPolicy.create(company=company, name="Ouro", first_response_minutes=30, resolution_minutes=120)


def opened_ago(factories, company, minutes: int, **fields) -> Ticket:
    """A ticket the contact opened `minutes` ago with a message."""
    at = utcnow() - dt.timedelta(minutes=minutes)
    ticket = factories.ticket(company, created_at=at, **fields)
    factories.message(ticket, created_at=at)
    return ticket


def test_policies_are_written_by_managers_read_by_all_and_audited(app, client, factories, company, agent,
                                                                  as_supervisor):
    as_agent = factories.auth_headers(app, agent)
    created = client.post("/api/sla-policies", json={"name": "Ouro", "firstResponseMinutes": 15}, headers=as_supervisor)
    assert created.status_code == 201, created.get_json()
    policy = created.get_json()
    assert (policy["firstResponseMinutes"], policy["resolutionMinutes"]) == (15, None)

    assert client.post("/api/sla-policies", json={"name": "Ouro", "resolutionMinutes": 60},
                       headers=as_supervisor).status_code == 409
    assert client.post("/api/sla-policies", json={"name": "Prata"}, headers=as_supervisor).status_code == 400
    assert client.post("/api/sla-policies", json={"name": "Prata", "resolutionMinutes": 0},
                       headers=as_supervisor).status_code == 400
    assert client.post("/api/sla-policies", json={"name": "Prata", "resolutionMinutes": 60},
                       headers=as_agent).status_code == 403
    assert [p["name"] for p in client.get("/api/sla-policies", headers=as_agent).get_json()["items"]] == ["Ouro"]
    assert client.patch(f"/api/sla-policies/{policy['id']}", json={"firstResponseMinutes": None},
                        headers=as_supervisor).status_code == 400  # no target left
    changed = client.patch(f"/api/sla-policies/{policy['id']}", json={"resolutionMinutes": 240},
                           headers=as_supervisor).get_json()
    assert (changed["firstResponseMinutes"], changed["resolutionMinutes"]) == (15, 240)
    next_only = client.post("/api/sla-policies", json={"name": "Bronze", "nextResponseMinutes": 20},
                            headers=as_supervisor).get_json()
    assert (next_only["firstResponseMinutes"], next_only["nextResponseMinutes"]) == (None, 20)
    assert [log.action for log in AuditLog.select().where(AuditLog.entity == "sla_policy")] == [
        "created", "updated", "created"]


def test_a_policy_applied_to_a_ticket_sets_its_due_times_from_when_it_opened(app, client, factories, company, agent,
                                                                             policy, as_supervisor):
    ticket = opened_ago(factories, company, 10, user=agent, status="open")

    answer = client.patch(f"/api/tickets/{ticket.id}", json={"slaPolicyId": policy.id}, headers=as_supervisor)

    assert answer.status_code == 200, answer.get_json()
    shown = answer.get_json()
    created = Ticket.get_by_id(ticket.id).created_at
    assert shown["slaPolicyId"] == policy.id and shown["slaMisses"] == []
    assert shown["firstResponseDueAt"] == (created + dt.timedelta(minutes=30)).isoformat(timespec="milliseconds") + "Z"
    assert shown["resolutionDueAt"] == (created + dt.timedelta(minutes=120)).isoformat(timespec="milliseconds") + "Z"
    assert TicketEvent.get(TicketEvent.kind == "sla_applied").data == {"policyId": policy.id, "name": "Ouro"}
    as_agent = factories.auth_headers(app, agent)
    assert client.patch(f"/api/tickets/{ticket.id}", json={"slaPolicyId": None}, headers=as_agent).status_code == 403
    assert client.patch(f"/api/tickets/{ticket.id}", json={"priority": "high"}, headers=as_agent).status_code == 200
    cleared = client.patch(f"/api/tickets/{ticket.id}", json={"slaPolicyId": None}, headers=as_supervisor).get_json()
    assert (cleared["slaPolicyId"], cleared["firstResponseDueAt"], cleared["priority"]) == (None, None, "high")
    assert client.patch(f"/api/tickets/{ticket.id}", json={"slaPolicyId": 999},
                        headers=as_supervisor).status_code == 404


@pytest.fixture
def office_and_always(factories, company):
    """A queue open 09:00–18:00 on weekdays in São Paulo, but Monday 2026-12-14 (a holiday), and one without hours."""
    company.timezone = "America/Sao_Paulo"
    company.save()
    weekdays = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    return factories.queue(company, business_hours=weekdays, special_days={"2026-12-14": []}), factories.queue(company)


def test_a_business_hours_policy_counts_only_the_queue_s_open_time_and_follows_a_transfer(
        client, factories, company, as_supervisor, office_and_always):
    office, always = office_and_always
    created = client.post("/api/sla-policies", json={"name": "Comercial", "firstResponseMinutes": 120,
                                                     "resolutionMinutes": 600, "businessHoursOnly": True},
                          headers=as_supervisor).get_json()
    assert created["businessHoursOnly"] is True
    # Friday 2026-12-11 17:30 in São Paulo: 30 open minutes that Friday, Monday a holiday, then Tuesday from 09:00.
    ticket = factories.ticket(company, queue=office, created_at=dt.datetime(2026, 12, 11, 20, 30))

    applied = client.patch(f"/api/tickets/{ticket.id}", json={"slaPolicyId": created["id"]},
                           headers=as_supervisor).get_json()
    moved = client.post(f"/api/tickets/{ticket.id}/transfer", json={"queueId": always.id},
                        headers=as_supervisor).get_json()

    assert (applied["firstResponseDueAt"], applied["resolutionDueAt"]) == (
        "2026-12-15T13:30:00.000Z", "2026-12-16T12:30:00.000Z")  # Tuesday 10:30; 30 + 540 minutes, Wednesday 09:30
    assert (moved["firstResponseDueAt"], moved["resolutionDueAt"]) == (
        "2026-12-11T22:30:00.000Z", "2026-12-12T06:30:00.000Z")  # a queue without hours: calendar time
    calendar = client.patch(f"/api/sla-policies/{created['id']}", json={"businessHoursOnly": False},
                            headers=as_supervisor).get_json()
    assert calendar["businessHoursOnly"] is False
    assert client.patch(f"/api/sla-policies/{created['id']}", json={"businessHoursOnly": None},
                        headers=as_supervisor).status_code == 400


def test_a_wait_is_due_in_the_queue_s_open_time_and_re_timed_by_a_transfer(client, factories, company, agent,
                                                                          as_supervisor, office_and_always):
    office, always = office_and_always
    policy = SlaPolicy.create(company=company, name="Comercial", next_response_minutes=60, business_hours_only=True)
    ticket = factories.ticket(company, queue=office, user=agent, status="open", created_at=dt.datetime(2026, 12, 11, 18))
    factories.message(ticket, created_at=dt.datetime(2026, 12, 11, 18))
    factories.message(ticket, direction="out", user=agent, sent_at=dt.datetime(2026, 12, 11, 18, 5),
                      created_at=dt.datetime(2026, 12, 11, 18, 5))
    factories.message(ticket, created_at=dt.datetime(2026, 12, 11, 20, 30))  # Friday 17:30 in São Paulo
    ticket.apply_sla(None, policy)

    record_sla_misses.fn()
    waiting = client.get(f"/api/tickets/{ticket.id}", headers=as_supervisor).get_json()
    moved = client.post(f"/api/tickets/{ticket.id}/transfer", json={"queueId": always.id},
                        headers=as_supervisor).get_json()

    assert (waiting["waitingSince"], waiting["nextResponseDueAt"]) == (
        "2026-12-11T20:30:00.000Z", "2026-12-15T12:30:00.000Z")  # 30 minutes that Friday, 30 on Tuesday from 09:00
    assert moved["nextResponseDueAt"] == "2026-12-11T21:30:00.000Z"  # a queue without hours: calendar time


def test_a_policy_given_new_targets_re_times_its_live_tickets_and_one_renamed_does_not(
        client, factories, company, policy, as_supervisor, broker):
    live, closed = (opened_ago(factories, company, 10, status=status) for status in ("open", "closed"))
    for ticket in (live, closed):
        ticket.apply_sla(None, policy)
    closed_due = Ticket.get_by_id(closed.id).first_response_due_at

    renamed = client.patch(f"/api/sla-policies/{policy.id}", json={"name": "Ouro+"}, headers=as_supervisor)
    jobs_after_rename = Job.select().where(Job.kind == "retime_sla_tickets").count()
    changed = client.patch(f"/api/sla-policies/{policy.id}", json={"firstResponseMinutes": 60}, headers=as_supervisor)
    [job] = Job.select().where(Job.kind == "retime_sla_tickets")
    first, again = retime_sla_tickets.fn(*job.message["args"]), retime_sla_tickets.fn(*job.message["args"])

    assert (renamed.status_code, changed.status_code, jobs_after_rename) == (200, 200, 0)
    assert (first, again) == ({"retimed": 1}, {"retimed": 0})
    assert Ticket.get_by_id(live.id).first_response_due_at == live.created_at + dt.timedelta(minutes=60)
    assert Ticket.get_by_id(closed.id).first_response_due_at == closed_due  # a closed ticket keeps what it had


def test_a_queue_given_new_hours_re_times_the_tickets_a_business_hours_policy_times(
        client, factories, company, as_admin, office_and_always, broker):
    office, _ = office_and_always
    hours = SlaPolicy.create(company=company, name="Comercial", first_response_minutes=120, business_hours_only=True)
    calendar = SlaPolicy.create(company=company, name="Corrido", first_response_minutes=120)
    timed, untimed = (factories.ticket(company, queue=office, created_at=dt.datetime(2026, 12, 11, 20, 30))
                      for _ in range(2))
    timed.apply_sla(None, hours)
    untimed.apply_sla(None, calendar)

    answer = client.patch(f"/api/queues/{office.id}", json={"specialDays": {}}, headers=as_admin)  # Monday open
    assert answer.status_code == 200, answer.get_json()
    [job] = Job.select().where(Job.kind == "retime_sla_tickets")

    assert job.message["args"] == ["queue", office.id]
    assert retime_sla_tickets.fn(*job.message["args"]) == {"retimed": 1}
    assert Ticket.get_by_id(timed.id).first_response_due_at == dt.datetime(2026, 12, 14, 13, 30)  # Monday 10:30
    assert Ticket.get_by_id(untimed.id).first_response_due_at == dt.datetime(2026, 12, 11, 22, 30)


def test_a_company_in_another_timezone_re_times_the_tickets_a_business_hours_policy_times(
        client, factories, company, as_admin, office_and_always, broker):
    office, _ = office_and_always
    hours = SlaPolicy.create(company=company, name="Comercial", first_response_minutes=120, business_hours_only=True)
    ticket = factories.ticket(company, queue=office, created_at=dt.datetime(2026, 12, 11, 20, 30))
    ticket.apply_sla(None, hours)

    same = client.patch("/api/settings", json={"timezone": "America/Sao_Paulo"}, headers=as_admin)
    jobs_after_same = Job.select().where(Job.kind == "retime_sla_tickets").count()
    moved = client.patch("/api/settings", json={"timezone": "UTC"}, headers=as_admin)
    [job] = Job.select().where(Job.kind == "retime_sla_tickets")

    assert (same.status_code, moved.status_code, jobs_after_same) == (200, 200, 0)
    assert job.message["args"] == ["company", company.id]
    assert retime_sla_tickets.fn(*job.message["args"]) == {"retimed": 1}
    assert Ticket.get_by_id(ticket.id).first_response_due_at == dt.datetime(2026, 12, 15, 11)  # Tuesday 11:00 UTC


def test_each_missed_target_is_recorded_once_and_told_to_the_agent_and_the_managers(
        client, factories, company, admin, agent, supervisor, policy, as_supervisor, broker):
    other_agent = factories.user(company, role="agent")
    late = opened_ago(factories, company, 150, user=agent, status="open")  # past both targets, unanswered
    answered = opened_ago(factories, company, 60, first_response_at=utcnow() - dt.timedelta(minutes=50))
    ours = factories.ticket(company, created_at=utcnow() - dt.timedelta(minutes=60))  # we wrote first
    factories.message(ours, direction="out")
    closed = opened_ago(factories, company, 150, status="closed", closed_at=utcnow() - dt.timedelta(minutes=140))
    on_time = opened_ago(factories, company, 5)
    # answered and closed after their due times, before the job ran: missed all the same
    answered_late = opened_ago(factories, company, 125, first_response_at=utcnow() - dt.timedelta(minutes=1),
                               status="closed", closed_at=utcnow() - dt.timedelta(seconds=30))
    for ticket in (late, answered, ours, closed, on_time, answered_late):
        ticket.apply_sla(None, policy)

    first = record_sla_misses.fn()
    again = record_sla_misses.fn()

    assert (first, again) == ({"first_response": 2, "next_response": 0, "resolution": 2, "waits": 0, "automated": 0},
                             {"first_response": 0, "next_response": 0, "resolution": 0, "waits": 0, "automated": 0})
    assert sorted((miss.ticket_id, miss.kind) for miss in SlaMiss.select()) == [
        (late.id, "first_response"), (late.id, "resolution"),
        (answered_late.id, "first_response"), (answered_late.id, "resolution")]
    assert [e.data["target"] for e in TicketEvent.select().where(TicketEvent.kind == "sla_missed",
                                                                 TicketEvent.ticket == late.id)] == [
        "first_response", "resolution"]
    told = sorted((n.user_id, n.data["target"]) for n in Notification.select().where(Notification.ticket == late.id))
    assert told == sorted((user.id, kind) for user in (agent, supervisor, admin)
                          for kind in ("first_response", "resolution"))
    assert other_agent.id not in {user_id for user_id, _ in told}
    shown = client.get(f"/api/tickets/{late.id}", headers=as_supervisor).get_json()
    assert shown["slaMisses"] == ["first_response", "resolution"]
    missed = client.get("/api/tickets?slaMissed=true", headers=as_supervisor).get_json()["items"]
    kept = client.get("/api/tickets?slaMissed=false&status=pending", headers=as_supervisor).get_json()["items"]
    assert {t["id"] for t in missed} == {late.id, answered_late.id}
    assert late.id not in {t["id"] for t in kept} and on_time.id in {t["id"] for t in kept}


def ago(minutes: float) -> dt.datetime:
    return utcnow() - dt.timedelta(minutes=minutes)


def test_each_wait_for_a_next_answer_is_timed_and_one_answered_late_or_not_at_all_is_missed_once(
        client, factories, company, agent, as_supervisor):
    policy = SlaPolicy.create(company=company, name="Prata", next_response_minutes=10)
    tickets = {}
    for name in ("unanswered", "answered late", "answered in time", "closed", "never answered"):
        ticket = tickets[name] = opened_ago(factories, company, 90, user=agent, status="open")
        if name != "never answered":  # the first response: the contact waits only after it
            factories.message(ticket, direction="out", user=agent, sent_at=ago(85), created_at=ago(85))
        ticket.apply_sla(None, policy)
    asked = {name: factories.message(tickets[name], created_at=ago(30)).created_at  # due 20 minutes ago
             for name in ("unanswered", "answered late", "closed", "never answered")}
    asked["answered in time"] = factories.message(tickets["answered in time"], created_at=ago(5)).created_at
    factories.message(tickets["answered in time"], created_at=ago(4))  # the same wait
    asked["never answered"] = None  # no first response yet: that target's, not this one's

    first = record_sla_misses.fn()  # the waits are seen
    waiting = {name: Ticket.get_by_id(ticket.id) for name, ticket in tickets.items()}
    factories.message(tickets["answered late"], direction="out", user=agent, sent_at=ago(1), created_at=ago(1))
    factories.message(tickets["answered in time"], direction="out", user=agent, sent_at=ago(1), created_at=ago(1))
    factories.message(tickets["answered in time"], direction="out", sent_at=ago(0.5), created_at=ago(0.5))  # a bot's
    Ticket.update(status="closed", closed_at=ago(25)).where(Ticket.id == tickets["closed"].id).execute()
    second = record_sla_misses.fn()  # the waits past due are judged, then the answered ones end
    third = record_sla_misses.fn()

    assert {name: (ticket.waiting_since, ticket.next_response_due_at) for name, ticket in waiting.items()} == {
        name: (since, since and since + dt.timedelta(minutes=10)) for name, since in asked.items()}
    assert (first["next_response"], first["waits"]) == (0, 4)
    assert (second["next_response"], second["waits"]) == (2, 3)  # late and unanswered missed; three waits ended
    assert (third["next_response"], third["waits"]) == (0, 0)
    assert sorted((miss.ticket_id, miss.kind) for miss in SlaMiss.select()) == sorted(
        (tickets[name].id, "next_response") for name in ("unanswered", "answered late"))
    shown = client.get(f"/api/tickets/{tickets['unanswered'].id}", headers=as_supervisor).get_json()
    assert shown["slaMisses"] == ["next_response"] and shown["nextResponseDueAt"].endswith("Z")
    ended = client.get(f"/api/tickets/{tickets['answered late'].id}", headers=as_supervisor).get_json()
    assert (ended["waitingSince"], ended["nextResponseDueAt"], ended["slaMisses"]) == (None, None, ["next_response"])
    assert sorted((wait.ticket_id, wait.since, wait.due_at) for wait in SlaWait.select()) == sorted(
        (tickets[name].id, asked[name], asked[name] + dt.timedelta(minutes=10))
        for name in ("answered late", "answered in time", "closed"))  # kept once over
    sla = client.get("/api/analytics/tickets?days=2", headers=as_supervisor).get_json()["sla"]
    # due by now: the two that ended late or closed, and the one still waiting; "answered in time" is due later
    assert sla["nextResponse"] == {"due": 3, "missed": 2, "metRate": 0.333}


def test_a_new_wait_after_an_answer_is_timed_again_and_missed_again(client, factories, company, agent, as_supervisor):
    policy = SlaPolicy.create(company=company, name="Prata", next_response_minutes=10)
    ticket = opened_ago(factories, company, 90, user=agent, status="open")
    factories.message(ticket, direction="out", user=agent, sent_at=ago(85), created_at=ago(85))
    ticket.apply_sla(None, policy)
    factories.message(ticket, created_at=ago(60))
    record_sla_misses.fn()
    record_sla_misses.fn()  # missed: due 50 minutes ago
    factories.message(ticket, direction="out", user=agent, sent_at=ago(40), created_at=ago(40))
    factories.message(ticket, created_at=ago(30))

    record_sla_misses.fn()  # the new wait is seen
    record_sla_misses.fn()  # and missed

    misses = list(SlaMiss.select().where(SlaMiss.ticket == ticket.id).order_by(SlaMiss.due_at))
    assert [(miss.kind, round((utcnow() - miss.due_at).total_seconds() / 60)) for miss in misses] == [
        ("next_response", 50), ("next_response", 20)]
    shown = client.get(f"/api/tickets/{ticket.id}", headers=as_supervisor).get_json()
    assert shown["slaMisses"] == ["next_response"]
    listed = client.get("/api/tickets?sort=nextResponseDueAt&slaMissed=true", headers=as_supervisor).get_json()
    assert [t["id"] for t in listed["items"]] == [ticket.id]


def test_the_soonest_due_ticket_comes_first(client, factories, company, policy, as_supervisor):
    later, sooner, none = (opened_ago(factories, company, minutes) for minutes in (1, 20, 25))
    for ticket in (later, sooner):
        ticket.apply_sla(None, policy)

    listed = client.get("/api/tickets?sort=firstResponseDueAt", headers=as_supervisor).get_json()["items"]

    assert [t["id"] for t in listed] == [sooner.id, later.id, none.id]


def test_a_deleted_policy_leaves_its_live_tickets_without_targets(client, factories, company, policy, as_supervisor):
    live, closed = opened_ago(factories, company, 5), opened_ago(factories, company, 5, status="closed")
    for ticket in (live, closed):
        ticket.apply_sla(None, policy)

    assert client.delete(f"/api/sla-policies/{policy.id}", headers=as_supervisor).status_code == 204

    live, closed = Ticket.get_by_id(live.id), Ticket.get_by_id(closed.id)
    assert (live.sla_policy_id, live.first_response_due_at, live.resolution_due_at) == (None, None, None)
    assert closed.first_response_due_at is not None  # its record, for reports


def test_a_miss_is_e_mailed_saying_which_target_and_when_it_was_due_in_the_company_s_time(factories, company, agent,
                                                                                          policy, broker, smtp_server):
    company.timezone = "America/Sao_Paulo"
    company.save()
    ticket = opened_ago(factories, company, 150, user=agent, status="open",
                        contact=factories.contact(company, name="Marta Reis"))
    ticket.apply_sla(None, policy)
    record_sla_misses.fn()

    told = Notification.get(Notification.user == agent.id, Notification.data.contains("first_response"))
    email_notification.fn(told.id)

    [sent] = [m for m in smtp_server.messages if m.rcpt_tos == [agent.email]]
    mail = email.message_from_bytes(sent.content, policy=email.policy.default)
    due = dt.datetime.fromisoformat(told.data["dueAt"]).astimezone(ZoneInfo("America/Sao_Paulo"))
    assert mail["Subject"] == f"SLA missed on ticket #{ticket.id} with Marta Reis"
    assert mail.get_content().rstrip() == (f"Ticket #{ticket.id} with Marta Reis missed its SLA target for its first answer, "
                                           f"due at {due:%Y-%m-%d %H:%M} (America/Sao_Paulo).")


def test_the_ticket_analytics_tell_how_many_targets_fell_due_and_were_missed(client, factories, company, policy,
                                                                             as_supervisor, broker):
    missed = opened_ago(factories, company, 150)
    met = opened_ago(factories, company, 150, first_response_at=utcnow() - dt.timedelta(minutes=140),
                     status="closed", closed_at=utcnow() - dt.timedelta(minutes=100))
    ours = factories.ticket(company, created_at=utcnow() - dt.timedelta(minutes=150))  # no first response to time
    factories.message(ours, direction="out", created_at=utcnow() - dt.timedelta(minutes=150))
    for ticket in (missed, met, ours, opened_ago(factories, company, 5)):  # the last one is not due yet
        ticket.apply_sla(None, policy)
    record_sla_misses.fn()

    sla = client.get("/api/analytics/tickets?days=2", headers=as_supervisor).get_json()["sla"]

    assert sla == {"firstResponse": {"due": 2, "missed": 1, "metRate": 0.5},
                   "nextResponse": {"due": 0, "missed": 0, "metRate": None},
                   "resolution": {"due": 3, "missed": 2, "metRate": 0.333}}


def test_a_policy_is_applied_to_many_tickets_in_bulk_by_managers_only(app, client, factories, company, agent, policy,
                                                                      as_supervisor):
    tickets = [opened_ago(factories, company, 5) for _ in range(2)]
    body = {"ticketIds": [t.id for t in tickets], "action": "sla", "slaPolicyId": policy.id}

    refused = client.post("/api/tickets/bulk", json=body, headers=factories.auth_headers(app, agent))
    done = client.post("/api/tickets/bulk", json=body, headers=as_supervisor)
    export = client.get("/api/tickets/export", headers=as_supervisor).get_data(as_text=True)

    assert refused.status_code == 403
    assert done.get_json() == {"done": [t.id for t in tickets], "failed": []}
    assert {Ticket.get_by_id(t.id).sla_policy_id for t in tickets} == {policy.id}
    rows = list(csv.DictReader(io.StringIO(export)))
    assert {(row["slaPolicy"], bool(row["firstResponseDueAt"]), bool(row["resolutionDueAt"])) for row in rows} == {
        ("Ouro", True, True)}
