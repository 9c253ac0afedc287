"""Fixtures on real services: a PostgreSQL database made for this run, a Redis db, SMTP on loopback.

The environment is set before any Wharf module is imported, because settings are read once. Under
`pytest -n` each worker process has a database and Redis dbs of its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import random
import socket
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    """A port free now, below the kernel's ephemeral range (32768 and up): there, one of the thousands of
    connections the tests open to PostgreSQL and Redis could take it as its own before the server given
    it binds it."""
    while True:
        port = random.randint(20_000, 32_767)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


ADMIN_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DATABASE_NAME = f"wharf_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
TEST_DATABASE_URL = urlunparse(urlparse(ADMIN_DATABASE_URL)._replace(path=f"/{TEST_DATABASE_NAME}"))
SMTP_PORT = free_port()
XDIST_WORKER_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def redis_url_of_run(offset: int = 0) -> str:
    """One of the three Redis dbs of this test process (offset 0 the tests', 1 and 2 the e2e stacks'),
    counted down from TEST_REDIS_URL's db (15 by default), three for each `pytest -n` worker."""
    server, db = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15").rsplit("/", 1)
    return f"{server}/{int(db) - 3 * XDIST_WORKER_INDEX - offset}"


os.environ.update(
    WHARF_VAR_DIR=tempfile.mkdtemp(prefix="wharf-test-var-"),
    DATABASE_URL=TEST_DATABASE_URL,
    REDIS_URL=redis_url_of_run(),
    SMTP_HOST="127.0.0.1",
    SMTP_PORT=str(SMTP_PORT),
    LOG_JSON="false",
    LOG_LEVEL="WARNING",
    JWT_SECRET="test-secret-" + uuid.uuid4().hex,
    WORKER_HEARTBEAT_SECONDS="5",  # the crash tests' killed processes give their messages back sooner
)

import psycopg2  # noqa: E402

from tests.factories import Factories  # noqa: E402


def pytest_collection_modifyitems(items):
    """Under `pytest -n` (make test), a module's tests run in one worker, so that its module-scoped
    fixtures start once; the end-to-end modules share one worker and its session-wide stack."""
    for item in items:
        group = "e2e" if item.path.parent.name == "e2e" else str(item.path.relative_to(ROOT))
        item.add_marker(pytest.mark.xdist_group(group))


def _admin_execute(sql: str) -> None:
    connection = psycopg2.connect(ADMIN_DATABASE_URL)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


@pytest.fixture(scope="session", autouse=True)
def var_dir():
    """The run's own var directory (secrets, media, uploads), removed at the end."""
    import shutil

    yield Path(os.environ["WHARF_VAR_DIR"])
    shutil.rmtree(os.environ["WHARF_VAR_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
def database():
    """A fresh PostgreSQL database with every migration applied; dropped at the end."""
    from db.base import connect_database
    from db.migrate import upgrade

    _admin_execute(f'CREATE DATABASE "{TEST_DATABASE_NAME}"')
    bound = connect_database(TEST_DATABASE_URL, pool_size=20, wait_seconds=30)
    upgrade(bound)
    yield bound
    bound.close_all()
    _admin_execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE_NAME}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_client():
    from wharf.redis_client import redis_client as client

    return client()


@functools.cache
def emptying_sql() -> str:
    """DELETE from every table, dependents first, and restart every id sequence: one round trip, and
    ten times faster than TRUNCATE of the same tables (which rewrites their files)."""
    from peewee import sort_models

    from db import ALL_MODELS
    from db.base import database

    sequences = [name for (name,) in database.execute_sql(
        "SELECT pg_get_serial_sequence(quote_ident(table_name), column_name) FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_default LIKE 'nextval%%'") if name]
    deletes = [f'DELETE FROM "{model._meta.table_name}"' for model in reversed(sort_models(ALL_MODELS))]
    return "; ".join(deletes + [f"ALTER SEQUENCE {name} RESTART" for name in sequences])


@pytest.fixture(autouse=True)
def clean_state(request):
    """Each test starts with empty tables and an empty Redis db (only for tests that use them)."""
    uses_db = "database" in request.fixturenames or "client" in request.fixturenames
    if uses_db:
        from db.base import database

        database.connect(reuse_if_open=True)
        database.execute_sql(emptying_sql())
        database.close()
        from wharf.redis_client import redis_client

        redis_client().flushdb()
        from db.company_settings import forget_recent_settings

        forget_recent_settings()  # ids start again: company 1 is another company now
    yield


def answers(client) -> bool:
    """The Redis of `client` answers a PING."""
    import redis

    try:
        return client.ping()
    except redis.ConnectionError:
        return False


@pytest.fixture
def own_redis(tmp_path, monkeypatch):
    """(a client of, the program running) a Redis on a free port that the platform's processes started
    from here on use: one a test may kill and restart (the suite's Redis is shared), which persists each
    write so that a kill -9 loses nothing acknowledged."""
    import redis

    from tests import processes
    from tests.waiting import wait_for

    port = free_port()
    server = processes.redis_server(port, tmp_path).start()
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=5)
    assert wait_for(lambda: answers(client), timeout=10)
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("SCHEDULER_LEASE_SECONDS", "3")
    monkeypatch.setenv("GATEWAY_LEASE_SECONDS", "6")  # a restarted gateway takes the connection over sooner
    # A send whose Job was written while Redis was down is sent again this long after (not two minutes)
    monkeypatch.setenv("LOST_JOB_SECONDS", "10")
    # A delayed message a process dropped when this Redis restarted is put back this long after its time
    monkeypatch.setenv("STRANDED_DELAY_SECONDS", "3")
    yield client, server
    server.stop()


@pytest.fixture(scope="session")
def app(database):
    from api.app import create_app

    return create_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def factories(database):
    return Factories()


@pytest.fixture
def broker(database):
    from workers.broker import broker

    broker.flush_all()
    return broker


@contextlib.contextmanager
def running_worker(broker, worker_threads: int = 2, finish_work: bool = True):
    """A real Dramatiq worker in this process, on every queue but the gateways' send queues (as
    `dramatiq workers`, which never declares them); on exit it waits for its work (all of it,
    delayed messages included, with `finish_work`) and stops."""
    from dramatiq import Worker

    from workers.messages import GATEWAY_QUEUE_PREFIX

    queues = {name for name in broker.get_declared_queues() if not name.startswith(GATEWAY_QUEUE_PREFIX)}
    worker = Worker(broker, queues=queues, worker_threads=worker_threads, worker_timeout=100)
    worker.start()
    try:
        yield worker
        if finish_work:
            worker.join()
    finally:
        worker.stop()
        # Worker.start() adds a middleware to the broker and stop() leaves it: take it back out.
        broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not worker]


@contextlib.contextmanager
def running_gateway(broker):
    """The gateway loop of `wharf gateway` in a thread of this process: leases, sessions, sends."""
    import threading

    from workers.gateway.process import Gateway

    gateway = Gateway(worker_timeout=100)
    thread = threading.Thread(target=gateway.run, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        gateway.stopping.set()
        thread.join(timeout=30)
        broker.middleware[:] = [m for m in broker.middleware if getattr(m, "worker", None) is not gateway.worker]


@pytest.fixture
def gateway(broker):
    with running_gateway(broker) as gateway:
        yield gateway


@pytest.fixture
def worker(broker):
    """A real Dramatiq worker consuming from the test Redis while the test runs (what is left when
    the test ends, such as a campaign's next tick or a webhook's retry, is dropped)."""
    with running_worker(broker, finish_work=False) as worker:
        yield worker
    broker.flush_all()


@pytest.fixture
def email_off(monkeypatch):
    """This server sends no e-mail: `SMTP_HOST` unset."""
    import workers.emails

    monkeypatch.setattr(workers.emails, "settings", dataclasses.replace(workers.emails.settings, smtp_host=""))


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback that keeps what it receives."""
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    yield inbox
    controller.stop()
