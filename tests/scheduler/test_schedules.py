"""The scheduler's due-work jobs: schedules queued once however many ticks race, cron rows moved on,
scheduled campaigns started."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from db.base import database, utcnow
from db.campaigns import Campaign
from db.jobs import Job
from db.messages import Message
from db.schedules import Schedule, ScheduleRun, next_cron_time
from scheduler.jobs import PERIODIC_JOBS
from workers.campaigns import start_due_campaigns
from workers.schedules import send_due_schedules


@pytest.fixture
def company(factories):
    return factories.company()


@pytest.fixture
def connection(factories, company):
    return factories.connection(company, enabled=True)


def schedule(company, connection, **fields) -> Schedule:
    return Schedule.create(**{"company": company, "connection": connection, "to": "+5511987650000",
                              "body": "Hi {{name|there}}", "send_at": utcnow() - dt.timedelta(seconds=1), **fields})


def tick_concurrently(ticks: int) -> list[int]:
    """`ticks` schedulers firing at once, each with its own database connection."""
    barrier, ran = threading.Barrier(ticks), []

    def tick() -> None:
        barrier.wait()
        with database.connection_context():
            ran.append(send_due_schedules())

    threads = [threading.Thread(target=tick) for _ in range(ticks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ran


def test_a_due_schedule_is_queued_once_by_two_ticks_at_the_same_time(company, connection, broker):
    due = [schedule(company, connection, to=f"+55119876500{n:02d}") for n in range(20)]
    later = schedule(company, connection, send_at=utcnow() + dt.timedelta(hours=1))

    ran = tick_concurrently(2)

    assert sum(ran) == 20
    assert Message.select().count() == 20 == ScheduleRun.select().count()
    assert {s.status for s in Schedule.select().where(Schedule.id.in_([s.id for s in due]))} == {"sent"}
    assert Schedule.get_by_id(later.id).status == "pending"
    assert Job.select().where(Job.kind == "send_message").count() == 20
    assert broker.client.llen(f"dramatiq:gw.{connection.id}") == 20
    assert Message.get().body == "Hi there"


def test_a_recurring_schedule_gets_its_next_time_in_its_timezone(company, connection, broker):
    now = dt.datetime(2024, 3, 4, 11, 30)  # 08:30 in São Paulo
    recurring = schedule(company, connection, cron="0 9 * * *", timezone="America/Sao_Paulo",
                         send_at=dt.datetime(2024, 3, 3, 12, 0))

    assert send_due_schedules(now) == 1

    moved = Schedule.get_by_id(recurring.id)
    assert (moved.status, moved.send_at, moved.run_count) == ("pending", dt.datetime(2024, 3, 4, 12, 0), 1)
    assert send_due_schedules(now) == 0
    assert next_cron_time("0 9 * * *", "America/Sao_Paulo", dt.datetime(2024, 3, 4, 12, 0)) == dt.datetime(
        2024, 3, 5, 12, 0)


def test_a_schedule_to_an_opted_out_contact_is_skipped_with_the_reason(factories, company, connection, broker):
    contact = factories.contact(company, opted_out_at=utcnow())
    refused = schedule(company, connection, contact=contact, to=None)

    send_due_schedules()

    assert (Schedule.get_by_id(refused.id).status, Schedule.get_by_id(refused.id).reason) == (
        "skipped", "opted_out: the contact opted out")
    assert ScheduleRun.get().status == "skipped" and Message.select().count() == 0


def test_an_agents_schedule_into_a_conversation_given_to_another_agent_since_is_skipped(factories, company,
                                                                                       connection, broker):
    author, other = factories.user(company, role="agent"), factories.user(company, role="agent")
    contact = factories.contact(company)
    factories.ticket(company, connection=connection, contact=contact, status="open", user=other)
    refused = schedule(company, connection, contact=contact, to=None, user=author)
    theirs = schedule(company, connection, contact=factories.contact(company), to=None, user=author)

    send_due_schedules()

    assert (Schedule.get_by_id(refused.id).status, Schedule.get_by_id(refused.id).reason) == (
        "skipped", "another_agent: the conversation is another agent's now")
    assert Schedule.get_by_id(theirs.id).status == "sent"
    assert [m.contact_id for m in Message.select()] == [theirs.contact_id]


def test_a_scheduled_campaign_is_started_once_when_due(factories, company, connection, broker):
    due = factories.campaign(company, connection=connection, status="scheduled",
                             scheduled_at=utcnow() - dt.timedelta(seconds=1))
    later = factories.campaign(company, connection=connection, status="scheduled",
                               scheduled_at=utcnow() + dt.timedelta(hours=1))

    assert start_due_campaigns() == [due.id]
    assert start_due_campaigns() == []

    assert Campaign.get_by_id(due.id).status == "running" and Campaign.get_by_id(later.id).status == "scheduled"
    assert Job.get().kind == "fan_out_campaign"


def test_the_scheduler_fires_the_due_work_jobs():
    ids = {job.id: job.seconds for job in PERIODIC_JOBS}

    assert ids["send_due_schedules"] <= 2 and ids["start_due_campaigns"] <= 5 and "restart_stalled_campaigns" in ids


def test_a_scheduled_status_post_queues_the_post_on_its_number_and_no_message(company, connection, broker):
    daily = schedule(company, connection, to=None, status_post=True, body="Bom dia! Promoção do dia",
                     media_url="https://example.com/promo.jpg", cron="0 9 * * *", timezone="America/Sao_Paulo")

    assert send_due_schedules() == 1

    [job] = Job.select().where(Job.kind == "post_status")
    assert job.queue_name == f"gw.{connection.id}" and broker.client.llen(f"dramatiq:gw.{connection.id}") == 1
    assert job.message["args"] == [connection.id, company.id, {"text": "Bom dia! Promoção do dia", "background":
                                                               "#128C7E", "font": 0,
                                                               "mediaUrl": "https://example.com/promo.jpg"}]
    assert Message.select().count() == 0 and ScheduleRun.get().status == "queued"
    assert Schedule.get_by_id(daily.id).status == "pending"  # on to tomorrow's


def test_a_schedule_to_a_group_id_goes_to_the_groups_conversation(company, connection, broker):
    schedule(company, connection, to="120363012345678901@g.us", body="Bom dia, equipe")

    assert send_due_schedules() == 1

    message = Message.get()
    assert (message.body, message.contact.phone, message.contact.is_group) == (
        "Bom dia, equipe", "120363012345678901@g.us", True)
