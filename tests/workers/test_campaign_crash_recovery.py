"""kill -9 of the workers, the gateway and the scheduler, and a Redis restart, mid-campaign: every
recipient receives the campaign once.

Everything runs as the real processes against a Redis of the test's own (the suite's Redis is shared
and must not restart), persisting each write so a kill -9 of Redis loses nothing acknowledged. The
simulated network's received log is the proof: each recipient's number appears in it exactly once.
"""

from __future__ import annotations

import collections

import redis

from db.base import utcnow
from db.campaigns import Campaign, CampaignShipping
from tests import processes
from tests.conftest import answers
from tests.waiting import wait_for
from workers.transports import simulator

RECIPIENTS = 300
PER_MINUTE = 3000
# The longest the platform takes to pick a campaign up again: a killed worker's messages come back once
# its heartbeat is WORKER_HEARTBEAT_SECONDS old; a tick lost for good, once 30 s overdue, at the next 30 s sweep.
RECOVERY_SECONDS = 75


def received(client: redis.Redis, connection_id: int) -> list[str]:
    entries, _ = simulator.outbox(client, connection_id, limit=RECIPIENTS * 3)
    return [entry["to"] for entry in entries]


def test_kill_9_of_every_process_and_a_redis_restart_leave_every_recipient_sent_once(
    factories, database, own_redis
):
    client, redis_program = own_redis
    company = factories.company()
    connection = factories.connection(company, enabled=True)
    simulator.configure(client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    contacts = [factories.contact(company) for _ in range(RECIPIENTS)]
    campaign = factories.campaign(
        company,
        connection=connection,
        contact_ids=[c.id for c in contacts],
        throttle={"perMinute": PER_MINUTE, "jitterSeconds": 0, "pauseEvery": 0},
        status="scheduled",
        scheduled_at=utcnow(),
    )
    platform = [processes.workers(processes=1, threads=4), processes.gateway(), processes.scheduler()]
    for program in platform:
        program.start()
    try:
        # Given a campaign the scheduler started, a quarter sent
        assert wait_for(
            lambda: len(received(client, connection.id)) >= RECIPIENTS // 4, timeout=30, interval=0.1
        )

        # When every process is killed and started again
        for program in platform:
            program.kill_hard()
        for program in platform:
            program.start()
        assert wait_for(
            lambda: len(received(client, connection.id)) >= RECIPIENTS * 2 // 3, timeout=RECOVERY_SECONDS, interval=0.1
        ), "sending did not resume after the processes' restart"

        # And Redis is killed and started again
        redis_program.kill_hard()
        redis_program.start()
        assert wait_for(lambda: answers(client), timeout=10)

        # Then every recipient gets the campaign once, and the ledger says so
        assert wait_for(
            lambda: Campaign.get_by_id(campaign.id).status == "completed", timeout=RECOVERY_SECONDS, interval=0.2
        )
        assert wait_for(
            lambda: len(received(client, connection.id)) >= RECIPIENTS, timeout=40, interval=0.2
        ), f"{len(received(client, connection.id))} of {RECIPIENTS} received"
    finally:
        for program in platform:
            program.stop()
    counts = collections.Counter(received(client, connection.id))
    assert counts == {contact.phone: 1 for contact in contacts}
    statuses = collections.Counter(row.status for row in CampaignShipping.select())
    assert statuses == {"sent": RECIPIENTS}
