"""Leases in Redis: of several processes, only the holder of a lease does the thing it guards.

The scheduler holds one to be the leader; each gateway holds one per WhatsApp connection.
A lease is a key with a short expiry that its holder renews; another process takes it over
within one `ttl` of the holder dying. Renewal and release check the holder's token, so a
process that lost its lease (a long pause) never renews or deletes another's.
"""

from __future__ import annotations

import socket
import uuid

import redis

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class Lease:
    def __init__(self, client: redis.Redis, key: str, ttl_ms: int = 15_000, owner: str | None = None) -> None:
        self.client = client
        self.ttl_ms = ttl_ms
        self.key = key
        self.token = owner or f"{socket.gethostname()}:{uuid.uuid4().hex}"
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def hold(self) -> bool:
        """Take the lease if it is free, renew it if it is ours; True while we hold it."""
        if self._renew(keys=[self.key], args=[self.token, self.ttl_ms]):
            return True
        return bool(self.client.set(self.key, self.token, px=self.ttl_ms, nx=True))

    def is_held(self) -> bool:
        value = self.client.get(self.key)
        return value is not None and value.decode() == self.token

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.token])

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value else None
