"""`POST /api/messages` under load from a second process, beside a hello-world route of the same app.

The API runs as supervisord runs it (gunicorn, 2 workers × 8 threads); the load comes from
another process with keep-alive connections. Printed: requests per second and p99 latency of
`POST /api/messages` and of `GET /healthz` (the same app's hello-world), with the raw Dramatiq
no-op rate of the same run.

Run: `.venv/bin/python bench/api_send.py [seconds]`.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BIN, Program, bench_services  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
CLIENT_THREADS = 16


def hammer(port: int, method: str, path: str, body: bytes | None, headers: dict, seconds: float, out) -> None:
    """The load process: CLIENT_THREADS keep-alive clients for `seconds`; sends back the latencies."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status >= 300 and response.status != 202:
                raise RuntimeError(f"{method} {path} answered {response.status}")
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.send(latencies)


def measure(port: int, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[float, float]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    receiver, sender = multiprocessing.Pipe(duplex=False)
    load = multiprocessing.get_context("spawn").Process(
        target=hammer, args=(port, method, path, json.dumps(body).encode() if body else None, headers, SECONDS, sender)
    )
    load.start()
    latencies = sorted(receiver.recv())
    load.join()
    return len(latencies) / SECONDS, latencies[int(len(latencies) * 0.99)] * 1000


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    with bench_services():
        from baseline import raw_noop_rate

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
        api = Program(str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "8",
                      "--log-level", "warning", "api.app:create_app()").start()
        try:
            time.sleep(3)
            hello = measure(port, "GET", "/healthz")
            send = measure(port, "POST", "/api/messages", {"to": "+5511987654321", "body": "hello"}, token)
        finally:
            api.stop()
        print(f"raw Dramatiq no-op rate:  {raw:8,.0f} msg/s")
        print(f"GET /healthz (hello):     {hello[0]:8,.0f} req/s  p99 {hello[1]:6.1f} ms")
        print(f"POST /api/messages:       {send[0]:8,.0f} req/s  p99 {send[1]:6.1f} ms  ({send[0] / hello[0]:.2f} × hello)")


if __name__ == "__main__":
    main()
