"""`wharf gateway`: hold a lease per enabled connection, keep its session, consume its sends.

Every `RECONCILE_SECONDS` the gateway compares what operators asked for (Connection.enabled,
logout_requested) with what it holds. It takes the lease of a connection no live gateway
holds, starts the session and starts consuming the connection's send queue; when it loses a
lease (it paused too long, another took over) it stops that session and its send consumer, so
exactly one session per connection is live across all gateway processes. It also notes which
connections ignore their groups (`Connection.ignore_groups`), which their sessions ask as each group
message arrives: a change reaches them within a pass, with no restart.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from functools import partial

from dramatiq import Worker

from db.base import database, utcnow
from db.connection_events import record_connection_status
from db.connections import Connection
from wharf.leases import Lease
from wharf.redis_client import redis_client
from wharf.settings import settings
from workers.broker import broker
from workers.gateway import HEARTBEAT_PREFIX
from workers.gateway.dispatch import dispatch_event
from workers.gateway.send_consumer import SendConsumer
from workers.gateway.sessions import SessionRegistry, registry

logger = logging.getLogger(__name__)

RECONCILE_SECONDS = 2.0  # also how often a lease is renewed: GATEWAY_LEASE_SECONDS leaves room for missed ones


def lease_key(connection_id: int) -> str:
    return f"wharf:gateway:lease:{connection_id}"


class Gateway:
    def __init__(self, sessions: SessionRegistry = registry, worker_timeout: int = 1000) -> None:
        self.sessions = sessions
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leases: dict[int, Lease] = {}
        self.senders: dict[int, SendConsumer] = {}
        self.ignoring_groups: frozenset[int] = frozenset()  # replaced whole by each pass, read by sessions' threads
        self.worker_timeout = worker_timeout
        # The sends are consumed by our SendConsumers. This worker consumes nothing (its whitelist
        # matches no queue): it boots the middleware, as for any Dramatiq process (the database,
        # the queue dashboard's stats and its list of workers).
        self.worker = Worker(broker, queues={"gw.none"}, worker_threads=1, worker_timeout=worker_timeout)
        self.stopping = threading.Event()

    # --- the send queues of the connections we hold
    def consume(self, connection_id: int) -> None:
        if connection_id not in self.senders:
            self.senders[connection_id] = SendConsumer(broker, connection_id, self.worker_timeout).start()

    def stop_consuming(self, connection_id: int) -> None:
        sender = self.senders.pop(connection_id, None)
        if sender is not None:
            sender.stop()

    # --- leases and sessions
    def reconcile(self) -> None:
        wanted = {
            c.id: c
            for c in Connection.select().where(Connection.enabled | Connection.logout_requested)
        }
        self.ignoring_groups = frozenset(c.id for c in wanted.values() if c.ignore_groups)
        for connection_id, connection in wanted.items():
            lease = self.leases.get(connection_id) or Lease(
                redis_client(), lease_key(connection_id), ttl_ms=settings.gateway_lease_seconds * 1000, owner=self.owner
            )
            if lease.hold():
                self.leases[connection_id] = lease
                self.hold(connection)
            elif connection_id in self.leases:
                logger.warning("gateway %s lost the lease of connection %s", self.owner, connection_id)
                self.let_go(connection_id, release=False)
        for connection_id in set(self.leases) - set(wanted):
            self.let_go(connection_id)
            unwanted = (Connection.id == connection_id) & (Connection.enabled == False)  # noqa: E712
            if Connection.update(status="stopped").where(unwanted).execute():
                record_connection_status(connection_id, "stopped", utcnow())

    def hold(self, connection: Connection) -> None:
        if connection.logout_requested:
            session = self.sessions.get(connection.id)
            if session is not None:
                session.logout()
            self.sessions.stop(connection.id)
            Connection.update(status="logged_out", logout_requested=False, enabled=False).where(
                Connection.id == connection.id
            ).execute()
            self.let_go(connection.id)
            return
        if connection.reconnect_requested:  # the scheduler found the session stuck (workers/watchdogs.py)
            logger.warning("gateway %s reconnects connection %s", self.owner, connection.id)
            self.sessions.stop(connection.id)
            Connection.update(reconnect_requested=False).where(Connection.id == connection.id).execute()
        if self.sessions.get(connection.id) is None:
            Connection.update(status="starting", last_seen_at=utcnow()).where(Connection.id == connection.id).execute()
            self.sessions.start(connection.id, connection.transport, dispatch_event,
                                ignores_groups=partial(self.ignores_groups, connection.id),
                                **transport_options(connection))
        self.consume(connection.id)

    def ignores_groups(self, connection_id: int) -> bool:
        return connection_id in self.ignoring_groups

    def let_go(self, connection_id: int, release: bool = True) -> None:
        self.stop_consuming(connection_id)
        self.sessions.stop(connection_id)
        lease = self.leases.pop(connection_id, None)
        if lease is not None and release:
            lease.release()

    # --- the process
    def run(self) -> None:
        self.worker.start()
        heartbeat = HEARTBEAT_PREFIX + self.owner
        logger.info("gateway %s started", self.owner)
        try:
            while not self.stopping.is_set():
                database.connect(reuse_if_open=True)
                try:
                    self.reconcile()
                    redis_client().set(heartbeat, ",".join(map(str, sorted(self.leases))), ex=15)
                except Exception:  # one bad pass (Redis restarting) must not end the gateway; the next one retries
                    logger.exception("gateway reconcile failed")
                finally:
                    database.close()
                self.stopping.wait(RECONCILE_SECONDS)
        finally:
            for connection_id in list(self.leases):
                self.let_go(connection_id)
            self.worker.stop()
            redis_client().delete(heartbeat)
            logger.info("gateway %s stopped", self.owner)


def transport_options(connection: Connection) -> dict:
    if connection.transport == "neonize":
        return {"database": settings.database_url, "pair_phone": connection.pair_phone}
    return {"redis_url": settings.redis_url, "pair_phone": connection.pair_phone}


def run_gateway() -> None:
    gateway = Gateway()
    signal.signal(signal.SIGTERM, lambda *_: gateway.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: gateway.stopping.set())
    gateway.run()
