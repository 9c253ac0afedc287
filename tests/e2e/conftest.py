"""The whole platform as `make run` starts it: supervisord with every program, on free ports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from tests.conftest import ADMIN_DATABASE_URL, ROOT, _admin_execute, free_port, redis_url_of_run


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.base_url + path, method=method)
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else {}


def wait_ready(base_url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("supervisord exited")
        try:
            with urllib.request.urlopen(base_url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("the stack did not answer /readyz in time")


@contextlib.contextmanager
def running_stack(var_dir: Path, redis_url: str, **settings: str):
    """supervisord with every program, as `make run` starts it, on free ports and a Redis db of its
    own (its broker, simulator and leases); yields the Stack."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}  # not the test run's
    env.update({
        "WHARF_VAR_DIR": str(var_dir),
        "REDIS_URL": redis_url,
        "WHARF_EMBEDDED_REDIS": "false",
        "API_PORT": str(port),
        "REALTIME_PORT": str(free_port()),
        "LOG_JSON": "true",
        **settings,
    })
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # a stack starts with an empty broker and simulator
    bin_dir = ROOT / ".venv" / "bin"
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([bin_dir / "wharf", *command], env=env, check=True, cwd=ROOT, capture_output=True)
    log = open(var_dir / "stack.log", "wb")
    process = subprocess.Popen(
        [bin_dir / "supervisord", "-c", ROOT / "supervisord.conf", "-n"], env=env, cwd=ROOT,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        yield Stack(base_url=f"http://127.0.0.1:{port}", env=env)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The stack on a PostgreSQL database and a Redis db of its own, for the whole run."""
    database_name = f"wharf_e2e_{uuid.uuid4().hex[:8]}"
    _admin_execute(f'CREATE DATABASE "{database_name}"')
    database_url = urlunparse(urlparse(ADMIN_DATABASE_URL)._replace(path=f"/{database_name}"))
    try:
        with running_stack(tmp_path_factory.mktemp("e2e-var"), redis_url_of_run(1), DATABASE_URL=database_url) as running:
            yield running
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory):
    """The stack as a new user's `make run` has it: no DATABASE_URL, so the SQLite file under var/; a Redis
    db of its own."""
    with running_stack(tmp_path_factory.mktemp("e2e-default-var"), redis_url_of_run(2)) as running:
        yield running
