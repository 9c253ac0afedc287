"""Outbound and inbound throughput of the messaging pipeline, beside the raw Dramatiq no-op rate.

Outbound: messages fully recorded (sent → delivered → read) per second, with the simulator at
zero latency, on PostgreSQL, with the programs `make run` starts (`dramatiq workers`, 2
processes × 8 threads, and `wharf gateway`). The messages are written and queued first (that is
the API's part, measured in bench/api_send.py); the clock runs from the first `sent` to the
last `read` as the database recorded them.

Inbound: messages per second turned into contact + ticket + message + realtime event, from the
moment the gateway starts reading the simulated network (the workers are up by then) until the
last message row exists.

Run: `.venv/bin/python bench/messaging.py [count] [both|outbound|inbound]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_services, gateway, wait_until, workers  # noqa: E402

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
PART = sys.argv[2] if len(sys.argv) > 2 else "both"
CONTACTS = 500


def outbound_rate(company_id: int) -> float:
    from peewee import fn

    from db.connections import Connection
    from db.messages import Message
    from db.tickets import find_or_open_ticket
    from wharf.redis_client import redis_client
    from workers.inbound import upsert_contact
    from workers.messages import queue_outbound
    from workers.transports import simulator

    connection = Connection.create(company=company_id, name="outbound", transport="simulator", enabled=True)
    simulator.configure(redis_client(), connection.id, deliveredAfterMs=0, readAfterMs=0)
    tickets = [find_or_open_ticket(upsert_contact(company_id, f"+55119{n:08d}", None, False), connection)[0]
               for n in range(CONTACTS)]
    for n in range(COUNT):
        queue_outbound(tickets[n % CONTACTS], f"message {n}")
    running = [workers().start(), gateway().start()]
    try:
        wait_until(lambda: Message.select().where(Message.status == "read").count() == COUNT, timeout=900, interval=0.5)
    finally:
        for program in running:
            program.stop()
    first_sent, last_read = Message.select(fn.MIN(Message.sent_at), fn.MAX(Message.read_at)).scalar(as_tuple=True)
    return COUNT / (last_read - first_sent).total_seconds()


def inbound_rate(company_id: int) -> float:
    from db.connections import Connection
    from db.messages import Message
    from wharf.redis_client import redis_client
    from workers.middleware import WORKERS_KEY
    from workers.transports import simulator

    connection = Connection.create(company=company_id, name="inbound", transport="simulator", enabled=True)
    client = redis_client()
    before = Message.select().count()
    with client.pipeline(transaction=False) as pipe:
        for n in range(COUNT):
            simulator.inject_inbound(pipe, connection.id, f"+55219{n % CONTACTS:08d}", f"hello {n}", f"Contact {n}")
        pipe.execute()
    running = [workers().start()]
    try:
        wait_until(lambda: client.hlen(WORKERS_KEY) >= 2, timeout=60)
        running.append(gateway().start())
        commands = simulator.key(connection.id, "commands")
        wait_until(lambda: client.llen(commands) < COUNT, timeout=60, interval=0.01)
        started = time.perf_counter()
        wait_until(lambda: Message.select().count() - before == COUNT, timeout=900, interval=0.1)
        elapsed = time.perf_counter() - started
    finally:
        for program in running:
            program.stop()
    return COUNT / elapsed


def main() -> None:
    with bench_services():
        from baseline import raw_noop_rate

        from db.base import database
        from db.companies import Company
        from wharf.settings import settings

        raw = raw_noop_rate(redis_url=settings.redis_url)
        database.connect(reuse_if_open=True)
        company = Company.create(name="Bench")
        print(f"raw Dramatiq no-op rate:         {raw:8,.0f} msg/s")
        if PART in ("both", "outbound"):
            outbound = outbound_rate(company.id)
            print(f"outbound (sent → read recorded): {outbound:8,.0f} msg/s  ({outbound / raw:.2f} × raw), "
                  f"{COUNT:,} messages")
        if PART in ("both", "inbound"):
            inbound = inbound_rate(company.id)
            print(f"inbound (contact+ticket+message): {inbound:7,.0f} msg/s  ({inbound / raw:.2f} × raw), "
                  f"{COUNT:,} messages")


if __name__ == "__main__":
    main()
