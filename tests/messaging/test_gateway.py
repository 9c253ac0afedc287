"""The gateway: one live session per connection across processes, takeover, backoff, no loop after a logout."""

from __future__ import annotations

import time

import pytest

from db.connections import Connection
from db.messages import Message
from db.tickets import find_or_open_ticket
from tests import processes
from tests.waiting import wait_for
from wharf.settings import settings
from workers.gateway.process import lease_key
from workers.gateway.sessions import Backoff, ManagedSession
from workers.inbound import upsert_contact
from workers.messages import queue_outbound
from workers.transports import build_transport, simulator
from workers.transports.base import Connected, Disconnected, LoggedOut


@pytest.fixture
def two_gateways(broker):
    gateways = [processes.gateway().start(), processes.gateway().start()]
    yield gateways
    for gateway in gateways:
        gateway.stop()


def holder_pid(redis_client, connection_id: int) -> int | None:
    holder = redis_client.get(lease_key(connection_id))
    return int(holder.decode().split(":")[1]) if holder else None


def test_of_two_gateways_one_holds_the_session_and_the_other_takes_over_when_it_is_killed(
    factories, redis_client, worker, two_gateways
):
    company = factories.company()
    connection = factories.connection(company, enabled=True)
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    assert wait_for(lambda: holder_pid(redis_client, connection.id) is not None, timeout=20)
    by_pid = {gateway.popen.pid: gateway for gateway in two_gateways}
    first = holder_pid(redis_client, connection.id)

    by_pid[first].kill_hard()
    killed_at = time.monotonic()
    assert wait_for(lambda: holder_pid(redis_client, connection.id) not in (None, first), timeout=40)
    taken_over_after = time.monotonic() - killed_at

    assert holder_pid(redis_client, connection.id) in by_pid
    assert taken_over_after < 30
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", None, False), connection)
    message, _ = queue_outbound(ticket, "still here")
    assert wait_for(lambda: Message.get_by_id(message.id).status in ("sent", "delivered"), timeout=30)


def test_a_session_learns_within_a_pass_whether_its_number_ignores_its_groups(factories, gateway):
    connection = factories.connection(factories.company(), enabled=True, ignore_groups=True)
    assert wait_for(lambda: gateway.sessions.get(connection.id) is not None, timeout=10)
    transport = gateway.sessions.get(connection.id).transport
    ignored_at_start = transport.ignores_groups()

    Connection.update(ignore_groups=False).where(Connection.id == connection.id).execute()

    assert ignored_at_start
    assert wait_for(lambda: not transport.ignores_groups(), timeout=10)
    assert gateway.sessions.get(connection.id).transport is transport  # the same session: no restart


def test_backoff_grows_with_jitter_and_the_breaker_opens_after_repeated_failures():
    backoff = Backoff(base=1.0, cap=60.0, trip_after=5, window=300.0, cooldown=300.0)

    delays = [backoff.next_delay(now=float(n)) for n in range(4)]
    tripped = backoff.next_delay(now=4.0)

    assert all(0 <= delay <= 2**n for n, delay in enumerate(delays))
    assert tripped == 300.0
    backoff.reset()
    assert backoff.next_delay(now=10.0) <= 1.0


def test_a_dropped_session_reconnects_but_a_logged_out_one_never_loops(redis_client):
    redis_client.flushdb()
    events = []
    transport = build_transport("simulator", 42, redis_url=settings.redis_url)
    session = ManagedSession(42, transport, events.append)
    session.backoff = Backoff(base=0.01, cap=0.05)
    session.start()

    simulator.push_command(redis_client, 42, "disconnect")
    assert wait_for(lambda: [type(e) for e in events].count(Connected) == 2)
    simulator.push_command(redis_client, 42, "ban")
    assert wait_for(lambda: any(isinstance(e, LoggedOut) for e in events))
    time.sleep(0.3)  # long enough for several reconnects, were any scheduled

    assert [type(e) for e in events] == [Connected, Disconnected, Connected, LoggedOut]
    session.stop()
