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


def cpu_seconds(pids: list[int], with_children: bool = True) -> float:
    """User + system CPU seconds spent so far by `pids` (and their descendants): on a shared machine a
    rate varies with the neighbours, the CPU a request costs much less."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)  # ppid, CPU
    chosen, frontier = set(pids), list(pids)
    while with_children and frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in stats.items() if ppid == parent and pid not in chosen]
        chosen.update(children)
        frontier += children
    return sum(stats[pid][1] for pid in chosen if pid in stats)
