"""A send's delayed attempt that the gateway held when Redis restarted is still sent, without restarting
the gateway: the scheduler puts the message its consumer forgot back on the queue (workers/stranded_delays.py).

The gateway and the scheduler run as processes against a Redis of the test's own (the `own_redis` fixture).
"""

from __future__ import annotations

import os
import time

from db.base import database as db
from db.messages import Message
from db.tickets import find_or_open_ticket
from tests import processes
from tests.conftest import answers
from tests.waiting import wait_for
from workers.broker import build_broker
from workers.gateway.process import lease_key
from workers.inbound import upsert_contact
from workers.messages import write_outbound
from workers.transports import simulator

DELAY_MS = 4000  # long enough for the gateway's consumer to hold the message when Redis goes


def test_a_delayed_send_the_gateway_held_when_redis_restarted_is_sent(factories, database, own_redis, monkeypatch):
    client, redis_program = own_redis
    monkeypatch.setenv("LOST_JOB_SECONDS", "600")  # the Job is in Redis: only the stranded sweep may send it again
    company = factories.company()
    connection = factories.connection(company, enabled=True)
    simulator.configure(client, connection.id, deliveredAfterMs=-1, readAfterMs=-1)
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", None, False), connection)
    with db.atomic():
        outbound = write_outbound(ticket, "hello")
    broker = build_broker(os.environ["REDIS_URL"])  # own_redis's
    platform = [processes.gateway(), processes.scheduler()]
    for program in platform:
        program.start()
    try:
        assert wait_for(lambda: client.exists(lease_key(connection.id)), timeout=30)
        broker.enqueue(outbound.broker_message, delay=DELAY_MS)
        held = f"dramatiq:__acks__.*.{outbound.broker_message.queue_name}.DQ"
        assert wait_for(lambda: next(client.scan_iter(match=held), None) is not None, timeout=10)

        redis_program.kill_hard()
        time.sleep(2)  # every consumer of the gateway meets the connection error
        redis_program.start()
        assert wait_for(lambda: answers(client), timeout=10)

        assert wait_for(lambda: Message.get_by_id(outbound.message.id).status == "sent", timeout=40)
    finally:
        for program in platform:
            program.stop()
    entries, total = simulator.outbox(client, connection.id)
    assert total == 1 and entries[0]["waId"] == outbound.message.wa_id
