"""A real HTTP server on loopback that receives webhook deliveries, for the webhook tests, and answers GETs alike,
for files to fetch (media URLs)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import ipaddress
import ssl
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def signature_is_valid(self, secret: str) -> bool:
        """Checked the way a receiver would, independently of Wharf's code."""
        signed = self.headers["X-Wharf-Timestamp"].encode() + b"." + self.body
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers["X-Wharf-Signature"])


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay_seconds: float = 0.0  # before the answer
    drip_seconds: float = 0.0  # between the bytes of the body: a slow drip


class Receiver:
    """Keeps every request; answers with the scripted answers in turn, then 200 "ok"."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.received: list[Received] = []
        self.script: deque[Answer] = deque()
        self.scheme = "https" if tls else "http"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                answer = receiver.script.popleft() if receiver.script else Answer()
                time.sleep(answer.delay_seconds)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                body = answer.body
                chunks = [body[i:i + 1] for i in range(len(body))] if answer.drip_seconds else [body]
                for chunk in chunks:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    time.sleep(answer.drip_seconds)

            do_GET = do_POST  # noqa: N815 (the name http.server calls)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_port}/hooks/wharf"

    def answer(self, *answers: Answer | int) -> None:
        self.script.extend(a if isinstance(a, Answer) else Answer(status=a) for a in answers)


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None):
    receiver = Receiver(tls)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def allow_loopback(monkeypatch) -> None:
    """HTTP_ALLOW_PRIVATE_NETWORKS=127.0.0.1/32, as an operator would set it, for this test."""
    import workers.webhooks
    from wharf.settings import settings

    allowed = dataclasses.replace(settings, http_allow_private_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    monkeypatch.setattr(workers.webhooks, "settings", allowed)


def fast_retries(monkeypatch) -> None:
    """Backoff of milliseconds instead of 30 s doubling, so a test sees every retry."""
    from workers.webhooks import deliver_webhook

    monkeypatch.setitem(deliver_webhook.options, "min_backoff", 10)
    monkeypatch.setitem(deliver_webhook.options, "max_backoff", 50)
