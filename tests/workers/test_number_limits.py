"""Per-number send limits on the real Redis: one bucket for every process, caps, quiet hours on a fixed clock,
the warm-up ramp, and campaigns and scheduled messages deferred (never dropped, never doubled) by them."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

from db.base import utcnow
from db.campaigns import Campaign, CampaignShipping
from db.connections import Connection
from db.messages import Message
from db.schedules import Schedule, ScheduleRun
from tests.waiting import wait_for
from workers import campaigns, number_limits
from workers.number_limits import SendLimits, acquire, limit_state
from workers.schedules import send_due_schedules
from workers.transports import simulator

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
NO_QUIET = {"quietStart": None, "quietEnd": None}


def at(year, month, day, hour, minute=0) -> float:
    """Unix seconds of a wall-clock time in São Paulo."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SAO_PAULO).timestamp()


@pytest.fixture
def company(factories):
    return factories.company(timezone="America/Sao_Paulo")


def limited(factories, company, **limits) -> Connection:
    return factories.connection(
        company, enabled=True, send_limits=SendLimits(**limits).model_dump(by_alias=True)
    )


TAKE_IN_A_PROCESS = """
import sys, redis
from workers.number_limits import SendLimits, Window, take
client = redis.Redis.from_url(sys.argv[1])
limits = SendLimits(perMinute=60, burst=5, hourlyCap=1000, dailyCap=1000, quietStart=None, quietEnd=None)
window = Window(int(sys.argv[2]), float(sys.argv[3]), "UTC")
print(sum(take(client, window, limits, 1000, 1).granted for _ in range(200)))
"""


def test_two_processes_share_one_bucket_and_never_get_more_than_it_holds(redis_client):
    now = "1700000000.0"  # both ask at the same instant: the bucket's 5 tokens are all there is
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE_IN_A_PROCESS, os.environ["REDIS_URL"], "41", now],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(2)
    ]
    granted = [int(run.communicate(timeout=60)[0]) for run in runs]

    assert sum(granted) == 5
    assert redis_client.get(number_limits.key(41, f"hour:{1700000000 // 3600}")) == b"5"


def test_the_bucket_refills_at_its_rate(factories, company):
    connection = limited(factories, company, perMinute=6, burst=2, **NO_QUIET)
    now = at(2024, 3, 4, 12)

    first = acquire(connection, 5, now)
    assert (first.granted, first.reason, first.wait) == (2, "rate", pytest.approx(10))
    assert acquire(connection, 1, now + 5).granted == 0
    assert acquire(connection, 5, now + 10).granted == 1
    assert acquire(connection, 5, now + 60).granted == 2  # never more than the burst


def test_hourly_and_daily_caps_hold_until_their_window_ends(factories, company):
    connection = limited(
        factories, company, perMinute=600, burst=100, hourlyCap=3, dailyCap=5, warmupFirstDay=0, **NO_QUIET
    )
    ten_past = at(2024, 3, 4, 22, 10)

    hourly = acquire(connection, 10, ten_past)
    assert (hourly.granted, hourly.reason, hourly.wait) == (3, "hourly_cap", pytest.approx(50 * 60))
    daily = acquire(connection, 10, at(2024, 3, 4, 23, 0))
    assert (daily.granted, daily.reason, daily.wait) == (2, "daily_cap", pytest.approx(3600))
    assert acquire(connection, 10, at(2024, 3, 4, 23, 59)).granted == 0
    assert acquire(connection, 10, at(2024, 3, 5, 0, 0)).granted == 3  # a new day in São Paulo, a new hour


def test_quiet_hours_in_the_company_timezone_defer_to_their_end(factories, company):
    connection = limited(factories, company, quietStart="21:00", quietEnd="08:00")

    night = acquire(connection, 1, at(2024, 3, 4, 23, 30))
    assert (night.granted, night.reason, night.wait) == (0, "quiet_hours", pytest.approx(8.5 * 3600))
    early = acquire(connection, 1, at(2024, 3, 5, 7, 59))
    assert (early.granted, early.wait) == (0, pytest.approx(60))
    assert acquire(connection, 1, at(2024, 3, 5, 8, 0)).granted == 1
    assert limit_state(connection.id, at(2024, 3, 5, 22, 0))["quietNow"] is True


def test_a_new_number_warms_up_from_its_first_send(factories, company):
    connection = limited(
        factories,
        company,
        perMinute=600,
        burst=1000,
        hourlyCap=1000,
        dailyCap=150,
        warmupFirstDay=20,
        **NO_QUIET,
    )
    day_one = at(2024, 3, 4, 10)

    first = acquire(connection, 100, day_one)
    assert (first.granted, first.reason) == (20, "daily_cap")
    assert Connection.get_by_id(connection.id).first_sent_at == dt.datetime(2024, 3, 4, 13, 0)
    assert acquire(connection, 100, day_one + 86400).granted == 40  # day 2
    assert acquire(connection, 1000, day_one + 3 * 86400).granted == 150  # day 4 would be 160: the cap holds
    state = limit_state(connection.id, day_one + 3 * 86400 + 60)
    assert (state["warmupDay"], state["dailyCap"], state["sentToday"]) == (4, 150, 150)


def test_limit_state_tells_the_dashboard_where_a_number_stands(factories, company):
    connection = limited(
        factories, company, perMinute=60, burst=5, hourlyCap=50, dailyCap=500, warmupFirstDay=0, **NO_QUIET
    )
    now = at(2024, 3, 4, 12)
    acquire(connection, 3, now)

    state = limit_state(connection.id, now + 1)

    assert state["tokens"] == 3 and (state["sentThisHour"], state["sentToday"]) == (3, 3)
    assert (state["hourlyCap"], state["dailyCap"], state["quietNow"], state["cooldownSeconds"]) == (
        50,
        500,
        False,
        0,
    )
    assert state["limits"]["perMinute"] == 60


def test_a_simulator_connection_without_limits_is_unlimited_and_a_real_one_gets_the_defaults(
    factories, company, redis_client
):
    simulated = factories.connection(company)
    real = factories.connection(company, transport="neonize")

    assert acquire(simulated, 10_000).granted == 10_000 and not redis_client.keys("wharf:limits:*")
    assert limit_state(simulated.id)["limited"] is False
    assert number_limits.limits_of(real) == SendLimits()


def test_a_campaign_waits_for_tokens_and_sends_each_recipient_once(
    factories, company, redis_client, worker, gateway
):
    connection = limited(
        factories, company, perMinute=20, burst=2, jitterSeconds=0, warmupFirstDay=0, **NO_QUIET
    )
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    contacts = [factories.contact(company).id for _ in range(4)]
    campaign = factories.campaign(
        company, connection=connection, contact_ids=contacts, throttle={"perMinute": 6000}
    )
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)

    assert campaigns.start_campaign(campaign) is not None

    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 2, timeout=20)
    assert not wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] > 2, timeout=1.5)
    assert CampaignShipping.select().where(CampaignShipping.status == "queued").count() == 2
    assert Campaign.get_by_id(campaign.id).status == "running"
    assert wait_for(lambda: Campaign.get_by_id(campaign.id).status == "completed", timeout=30)
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 4, timeout=20)
    assert not wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] > 4, timeout=1)
    assert len({entry["to"] for entry in simulator.outbox(redis_client, connection.id)[0]}) == 4


def test_a_scheduled_message_in_quiet_hours_waits_for_the_morning_and_goes_once(factories, company, broker):
    connection = limited(factories, company, quietStart="21:00", quietEnd="08:00", warmupFirstDay=0)
    night = dt.datetime(2024, 3, 5, 2, 0)  # 23:00 in São Paulo
    schedule = Schedule.create(
        company=company,
        connection=connection,
        to="+5511987650000",
        body="Hi",
        send_at=night - dt.timedelta(minutes=1),
    )

    send_due_schedules(night)

    waiting = Schedule.get_by_id(schedule.id)
    morning = dt.datetime(2024, 3, 5, 11, 0)  # 08:00 in São Paulo
    assert (waiting.status, waiting.send_at) == ("pending", morning)
    assert "quiet_hours" in waiting.reason and Message.select().count() == 0 == ScheduleRun.select().count()
    assert send_due_schedules(morning - dt.timedelta(seconds=1)) == 0
    send_due_schedules(morning)
    send_due_schedules(morning + dt.timedelta(minutes=1))
    assert Schedule.get_by_id(schedule.id).status == "sent"
    assert Message.select().count() == 1 == ScheduleRun.select().count()


def test_a_campaign_on_a_number_in_quiet_hours_sends_nothing_and_stays_running(factories, company, broker):
    connection = limited(factories, company, quietStart="00:00", quietEnd="23:59")
    Connection.update(status="connected").where(Connection.id == connection.id).execute()
    campaign = factories.campaign(
        company,
        connection=connection,
        contact_ids=[factories.contact(company).id],
        status="running",
        pump_seq=1,
        next_pump_at=utcnow(),
    )
    campaigns.write_ledger(campaign)

    campaigns.pump_campaign(campaign.id, 1)

    after = Campaign.get_by_id(campaign.id)
    assert (after.status, after.pump_seq, after.dispatched) == ("running", 2, 0)
    assert after.next_pump_at > utcnow() + dt.timedelta(seconds=60)  # not before the quiet hours let it send
    assert Message.select().count() == 0 and CampaignShipping.get().status == "queued"
