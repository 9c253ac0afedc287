"""A small OpenAI-compatible chat completions server on loopback, for the tests of flows' AI replies.

    with serving_openai(api_key="sk-test") as openai:
        allow_loopback(monkeypatch)
        openai.answer("Hello!")            # the next completion's text; afterwards "echo: <last user message>"
        ... point a company's AI settings at openai.base_url ...
        openai.requests[-1].body["model"]  # what the client sent

`POST /v1/chat/completions` is the one route. A request whose bearer key is not `api_key` gets
OpenAI's 401 error; scripted `Completion`s can also answer an error status, wait first, or send
a body that is not JSON. Every request is kept, answered or not.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass(frozen=True)
class ChatRequest:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body["messages"]


@dataclasses.dataclass(frozen=True)
class Completion:
    text: str | None = "ok"
    status: int = 200
    delay_seconds: float = 0.0
    raw_body: bytes | None = None  # sent as it is instead of a completion


def completion_json(model: str, text: str | None) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def error_json(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class FakeOpenAI:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: list[ChatRequest] = []
        self.script: deque[Completion] = deque()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                body = json.loads(raw or b"{}")
                fake.requests.append(ChatRequest(self.path, headers, body))
                status, answer = fake.answer_for(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def answer(self, *completions: Completion | str) -> None:
        """Script the next answers, in turn (a string is a completion with that text)."""
        self.script.extend(c if isinstance(c, Completion) else Completion(text=c) for c in completions)

    def answer_for(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, bytes]:
        if path != "/v1/chat/completions":
            return 404, json.dumps(error_json(f"no route {path}", "invalid_request_error")).encode()
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, json.dumps(error_json("Incorrect API key provided", "invalid_request_error")).encode()
        completion = self.script.popleft() if self.script else None
        if completion is None:
            users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
            completion = Completion(text=f"echo: {users[-1] if users else ''}")
        time.sleep(completion.delay_seconds)
        if completion.raw_body is not None:
            return completion.status, completion.raw_body
        if completion.status >= 400:
            return completion.status, json.dumps(
                error_json(f"scripted {completion.status}", "server_error")
            ).encode()
        return completion.status, json.dumps(completion_json(body.get("model", ""), completion.text)).encode()


@contextlib.contextmanager
def serving_openai(api_key: str | None = None):
    fake = FakeOpenAI(api_key)
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def allow_loopback(monkeypatch) -> None:
    """HTTP_ALLOW_PRIVATE_NETWORKS=127.0.0.1/32 for this test, as an operator would set it, for the code
    that reads `wharf.settings.settings` when it calls out (flows' HTTP and AI nodes, media downloads)."""
    import wharf.settings

    allowed = (ipaddress.ip_network("127.0.0.1/32"),)
    monkeypatch.setattr(
        wharf.settings,
        "settings",
        dataclasses.replace(wharf.settings.settings, http_allow_private_networks=allowed),
    )
