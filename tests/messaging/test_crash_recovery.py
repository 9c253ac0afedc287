"""kill -9 the workers and the gateway in the middle of 5,000 sends and 3,000 inbound messages: none
lost, none sent or recorded twice.

The processes are the real ones (`dramatiq workers`, `wharf gateway`) against the test's
PostgreSQL and Redis. What the simulated network received is the proof for the sends: every
message once; for the inbound messages, every one stored once and counted once as unread, and
each new ticket greeted once.
"""

from __future__ import annotations

import pytest
from peewee import fn

from db.messages import Message, PendingFollowUp
from db.tickets import Ticket, find_or_open_ticket
from tests import processes
from tests.waiting import wait_for
from workers.inbound import upsert_contact
from workers.messages import queue_outbound
from workers.transports import simulator

SENDS = 5000
INBOUND = 3000
SENDERS = 50
SENT_OR_LATER = ("sent", "delivered", "read")
GREETING = "Olá! Já vamos te atender."


@pytest.fixture
def platform(broker, monkeypatch):
    monkeypatch.setenv("GATEWAY_LEASE_SECONDS", "6")  # the restarted gateway takes the connection over sooner
    programs = processes.workers(processes=1).start(), processes.gateway().start()
    yield programs
    for program in programs:
        program.stop()


def sent_count() -> int:
    return Message.select().where(Message.direction == "out", Message.status.in_(SENT_OR_LATER)).count()


def received_count() -> int:
    return Message.select().where(Message.direction == "in").count()


def inject_inbound(redis_client, connection_id: int) -> set[str]:
    with redis_client.pipeline(transaction=False) as pipe:
        wa_ids = {simulator.inject_inbound(pipe, connection_id, f"+55219{n % SENDERS:08d}", f"inbound {n}")
                  for n in range(INBOUND)}
        pipe.execute()
    return wa_ids


def test_kill_9_of_workers_and_gateway_loses_no_message_and_doubles_none(factories, redis_client, platform):
    workers, gateway = platform
    company = factories.company()
    connection = factories.connection(company, enabled=True, greeting_message=GREETING)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", "Ana", False), connection)

    for n in range(SENDS):
        queue_outbound(ticket, f"message {n}")
        if n == SENDS // 5:
            assert wait_for(lambda: sent_count() > 200, timeout=60), "nothing was sent before the crash"
            workers.kill_hard()
            gateway.kill_hard()
            inbound = inject_inbound(redis_client, connection.id)  # a backlog the next gateway reads in batches
            workers.start()
            gateway.start()

    backlog = simulator.key(connection.id, "commands")
    assert wait_for(lambda: redis_client.llen(backlog) < INBOUND, timeout=120, interval=0.01)
    gateway.kill_hard()  # in the middle of sending and of reading the backlog
    gateway.start()
    assert wait_for(lambda: received_count() > 200, timeout=120), "nothing was received before the crash"
    workers.kill_hard()  # in the middle of recording it
    workers.start()

    assert wait_for(lambda: received_count() == INBOUND, timeout=120, interval=0.5), f"{received_count()} received"
    assert {m.wa_id for m in Message.select(Message.wa_id).where(Message.direction == "in")} == inbound
    of_senders = Ticket.select().where(Ticket.id != ticket.id)
    assert of_senders.count() == SENDERS  # one ticket per contact
    assert of_senders.select(fn.SUM(Ticket.unread_messages)).scalar() == INBOUND  # each message counted once
    assert wait_for(lambda: not PendingFollowUp.select().exists(), timeout=60)
    greeted = [m.ticket_id for m in Message.select(Message.ticket).where(Message.body == GREETING)]
    assert sorted(greeted) == sorted(t.id for t in of_senders)  # each new ticket greeted once

    sends = SENDS + SENDERS
    assert wait_for(lambda: sent_count() == sends, timeout=240, interval=0.5), f"{sent_count()} of {sends} sent"
    received = [entry["waId"] for entry in simulator.outbox(redis_client, connection.id, limit=sends * 2)[0]]
    assert len(received) == sends
    assert set(received) == {m.wa_id for m in Message.select(Message.wa_id).where(Message.direction == "out")}
