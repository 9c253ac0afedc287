"""kill -9 the workers and the gateway in the middle of 5,000 sends: none lost, none sent twice.

The processes are the real ones (`dramatiq workers`, `wharf gateway`) against the test's
PostgreSQL and Redis. What the simulated network received is the proof: every message once.
"""

from __future__ import annotations

import pytest

from db.messages import Message
from db.tickets import find_or_open_ticket
from tests import processes
from tests.waiting import wait_for
from workers.inbound import upsert_contact
from workers.messages import queue_outbound
from workers.transports import simulator

SENDS = 5000
SENT_OR_LATER = ("sent", "delivered", "read")


@pytest.fixture
def platform(broker):
    programs = processes.workers(processes=1).start(), processes.gateway().start()
    yield programs
    for program in programs:
        program.stop()


def sent_count() -> int:
    return Message.select().where(Message.status.in_(SENT_OR_LATER)).count()


def test_kill_9_of_workers_and_gateway_loses_no_message_and_doubles_none(factories, redis_client, platform):
    workers, gateway = platform
    company = factories.company()
    connection = factories.connection(company, enabled=True)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", "Ana", False), connection)

    for n in range(SENDS):
        queue_outbound(ticket, f"message {n}")
        if n == SENDS // 5:
            assert wait_for(lambda: sent_count() > 200, timeout=60), "nothing was sent before the crash"
            workers.kill_hard()
            gateway.kill_hard()
            workers.start()
            gateway.start()

    assert wait_for(lambda: sent_count() > SENDS // 2, timeout=120)
    gateway.kill_hard()
    gateway.start()

    assert wait_for(lambda: sent_count() == SENDS, timeout=240, interval=0.5), f"{sent_count()} of {SENDS} sent"
    received = [entry["waId"] for entry in simulator.outbox(redis_client, connection.id, limit=SENDS * 2)[0]]
    assert len(received) == SENDS
    assert set(received) == {m.wa_id for m in Message.select(Message.wa_id)}
