"""Only one scheduler leads; a standby takes over when the leader stops renewing."""

from __future__ import annotations

import time

import redis

from wharf.leases import Lease

KEY = "wharf:test:leader"


def client() -> redis.Redis:
    from wharf.redis_client import redis_client

    return redis_client()


def test_one_of_two_schedulers_leads():
    first, second = Lease(client(), KEY), Lease(client(), KEY)
    try:
        assert first.hold() is True
        assert second.hold() is False
        assert first.is_held() and not second.is_held()
        assert first.hold() is True  # renewing keeps it
    finally:
        first.release()


def test_a_standby_takes_over_when_the_leader_stops_renewing():
    leader, standby = Lease(client(), KEY, ttl_ms=300), Lease(client(), KEY, ttl_ms=300)
    leader.hold()

    deadline = time.monotonic() + 5
    while not standby.hold() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert standby.is_held()
    assert leader.hold() is False
    standby.release()


def test_release_never_deletes_another_holder_s_lock():
    old, new = Lease(client(), KEY), Lease(client(), KEY)
    client().set(KEY, new.token)

    old.release()

    assert new.is_held()
    new.release()
    assert new.holder() is None
