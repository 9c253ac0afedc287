"""`POST /api/messages` under load from other processes, beside a hello-world route of the same app.

The API runs as supervisord runs it (its `api` program: granian, 2 workers), with one route more: the
thinnest send (bench/thinnest_send.py). The load comes from two client processes holding 16 keep-alive
connections (bench/http_load.py: a few microseconds of CPU per request, so the client does not set the
rate). Printed: requests per second and p99 latency of `GET /healthz` (the same app's hello-world), of
the thinnest send (authenticated, validated, pushed to Redis: what any shape of the send would still
cost), of `POST /api/messages` to one phone (one conversation, whose ticket row every send updates) and
to 64 phones, with the CPU each request cost the API processes and PostgreSQL (a steadier figure than
the rate on a shared machine), and the raw Dramatiq no-op rate of the same run.

Run: `.venv/bin/python bench/api_send.py [seconds]`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BIN, Program, bench_services, cpu_seconds, wait_until  # noqa: E402
from http_load import Result, load, raw_request  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
CLIENT_PROCESSES = 2
CONNECTIONS = 16
PHONES = 64


@dataclass(frozen=True)
class Figure:
    result: Result
    api_cpu_ms: float  # per request
    database_cpu_ms: float

    def line(self, label: str, hello: Figure | None = None) -> str:
        text = (f"{label:29s} {self.result.requests_per_second:7,.0f} req/s  p99 {self.result.p99_ms:6.1f} ms  "
                f"CPU/request: API {self.api_cpu_ms:5.2f} ms, PostgreSQL {self.database_cpu_ms:5.2f} ms")
        if hello is not None:
            text += f"  ({self.result.requests_per_second / hello.result.requests_per_second:.2f} × hello)"
        return text


def database_backends() -> list[int]:
    """The PostgreSQL backends serving the benchmark's database."""
    from db.base import database

    return [pid for (pid,) in database.execute_sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]


def measure(api: Program, port: int, method: str, path: str, bodies: list[dict] | None = None,
            token: str | None = None) -> Figure:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    requests = [raw_request(method, path, headers, json.dumps(body).encode() if body else None)
                for body in bodies or [None]]
    backends = database_backends()
    api_before, database_before = cpu_seconds([api.popen.pid]), cpu_seconds(backends, with_children=False)
    result = load(port, requests, seconds=SECONDS, processes=CLIENT_PROCESSES, connections=CONNECTIONS)
    api_spent = cpu_seconds([api.popen.pid]) - api_before
    database_spent = cpu_seconds(backends, with_children=False) - database_before
    if result.errors:
        raise RuntimeError(f"{method} {path}: {result.errors} answers were errors")
    count = result.requests_per_second * SECONDS
    return Figure(result, api_spent / count * 1000, database_spent / count * 1000)


def answers(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_program(port: int) -> Program:
    """The `api` program of supervisord.conf, on `port`, without its access log, with the thinnest send."""
    return Program(str(BIN / "granian"), "--interface", "wsgi", "--factory", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", "2", "--blocking-threads", "8", "--log-level", "warning",
                   "bench.thinnest_send:create_app")


def main() -> None:
    with bench_services():
        from baseline import raw_noop_rate
        from thinnest_send import PATH as THINNEST_SEND

        from api.app import create_app
        from api.security import issue_tokens
        from db.base import database
        from db.companies import Company
        from db.connections import Connection
        from db.users import User
        from wharf.settings import settings

        raw = raw_noop_rate(redis_url=settings.redis_url)
        database.connect(reuse_if_open=True)
        company = Company.create(name="Bench")
        Connection.create(company=company, name="bench", transport="simulator", is_default=True)
        user = User.create(company=company, name="Bench", email="bench@example.com", password_hash="-", role="admin")
        with create_app().app_context():
            token = issue_tokens(user)["accessToken"]
        port = free_port()
        api = api_program(port).start()
        one_phone = [{"to": "+5511987654321", "body": "hello"}]
        phones = [{"to": f"+55119{n:08d}", "body": "hello"} for n in range(PHONES)]
        try:
            wait_until(lambda: answers(port), timeout=60)
            time.sleep(1)  # both workers up, not only the first
            hello = measure(api, port, "GET", "/healthz")
            thinnest = measure(api, port, "POST", THINNEST_SEND, one_phone, token)
            send = measure(api, port, "POST", "/api/messages", one_phone, token)
            measure(api, port, "POST", "/api/messages", phones, token)  # the phones' first sends: contacts, tickets
            many = measure(api, port, "POST", "/api/messages", phones, token)
        finally:
            api.stop()
        print(f"raw Dramatiq no-op rate:      {raw:7,.0f} msg/s")
        print(hello.line("GET /healthz (hello):"))
        print(thinnest.line("thinnest send (baseline):", hello))
        print(send.line("POST /api/messages:", hello))
        print(many.line(f"POST, {PHONES} conversations:", hello))


if __name__ == "__main__":
    main()
