"""A shop's order API on loopback, for the HTTP request node: GET /orders/<n> answers JSON."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OrderApi:
    def __init__(self, orders: dict[str, dict], status: int = 200) -> None:
        self.orders, self.status, self.requests = orders, status, []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                api.requests.append(self.path)
                order = api.orders.get(self.path.rsplit("/", 1)[-1])
                status = api.status if order is not None else 404
                body = json.dumps({"data": order} if order else {"error": "no such order"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


@contextlib.contextmanager
def serving(orders: dict[str, dict], status: int = 200):
    api = OrderApi(orders, status)
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()
