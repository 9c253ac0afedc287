"""What the benchmarks share: a fresh PostgreSQL database and Redis db, and the platform's processes.

`use_bench_services()` must run before any Wharf module is imported (settings are read once).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import BIN, Program, gateway, workers  # noqa: E402, F401  (the benchmarks' programs)

ADMIN_DATABASE_URL = os.environ.get("BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")


def _admin(sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(ADMIN_DATABASE_URL)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


@contextlib.contextmanager
def bench_services():
    """A new database with every migration and an empty Redis db, for the length of the benchmark."""
    name = f"wharf_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    os.environ.update(
        DATABASE_URL=urlunparse(urlparse(ADMIN_DATABASE_URL)._replace(path=f"/{name}")),
        REDIS_URL=BENCH_REDIS_URL,
        WHARF_VAR_DIR=tempfile.mkdtemp(prefix="wharf-bench-"),
        LOG_LEVEL="WARNING",
        LOG_JSON="false",
    )
    _admin(f'CREATE DATABASE "{name}"')
    try:
        from db.base import connect_database
        from db.migrate import upgrade
        from wharf.redis_client import redis_client

        redis_client().flushdb()
        upgrade(connect_database(os.environ["DATABASE_URL"], pool_size=20, wait_seconds=30))
        yield
    finally:
        import shutil

        from db.base import database

        database.close_all()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(os.environ["WHARF_VAR_DIR"], ignore_errors=True)


def wait_until(predicate, timeout: float, interval: float = 0.05) -> float:
    """Seconds until `predicate()` held; raises TimeoutError after `timeout`."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the benchmark did not finish in time")
        time.sleep(interval)
    return time.perf_counter() - started
