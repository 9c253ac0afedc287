"""A load generator light enough not to be the bottleneck: keep-alive sockets driven by one selector per process.

Each client process keeps `connections` sockets busy, one request in flight on each (no pipelining),
sending the given requests (bytes built once) in turn. It costs a few microseconds of CPU per request, where
`http.client` in threads costs tens, so on a small machine the server, not the load, sets the rate.
Answers must carry a Content-Length (every answer of the API does).
"""

from __future__ import annotations

import itertools
import multiprocessing
import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def raw_request(method: str, path: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def answered(buffer: bytearray) -> tuple[int, int] | None:
    """(status, length of the whole answer) once `buffer` holds a complete answer, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    length = next((int(line.split(":", 1)[1]) for line in head[1:] if line[:15].lower() == "content-length:"), None)
    if length is None:
        raise RuntimeError(f"an answer without Content-Length: {head[0]}")
    total = end + 4 + length
    return (int(head[0].split(" ", 2)[1]), total) if len(buffer) >= total else None


def drive(port: int, requests: Sequence[bytes], connections: int, seconds: float, out) -> None:
    """One client process: `connections` keep-alive sockets for `seconds`; sends (latencies, errors) to
    `out`, or what stopped it."""
    try:
        out.send(driven(port, requests, connections, seconds))
    except Exception as error:  # the parent says what went wrong instead of finding a closed pipe
        out.send(f"{type(error).__name__}: {error}")


def driven(port: int, requests: Sequence[bytes], connections: int, seconds: float) -> tuple[list[float], int]:
    selector = selectors.DefaultSelector()
    turn = itertools.cycle(requests)
    started: dict[socket.socket, float] = {}
    buffers: dict[socket.socket, bytearray] = {}
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        buffers[sock] = bytearray()
        started[sock] = time.perf_counter()
        sock.sendall(next(turn))
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    while started:
        for key, _ in selector.select(timeout=30):
            sock = key.fileobj
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed a keep-alive connection")
            buffer = buffers[sock]
            buffer += chunk
            if (answer := answered(buffer)) is None:
                continue
            status, length = answer
            now = time.perf_counter()
            latencies.append(now - started[sock])
            errors += status >= 400
            del buffer[:length]
            if now < deadline:
                started[sock] = now
                sock.sendall(next(turn))
            else:
                selector.unregister(sock)
                sock.close()
                del started[sock]
    return latencies, errors


def load(port: int, requests: Sequence[bytes], *, seconds: float, processes: int = 2, connections: int = 16) -> Result:
    """Drive `requests` (in turn) at 127.0.0.1:`port` from `processes` client processes sharing `connections` sockets."""
    context = multiprocessing.get_context("spawn")
    pipes, workers = [], []
    for index in range(processes):
        receiver, sender = context.Pipe(duplex=False)
        share = connections // processes + (index < connections % processes)
        worker = context.Process(target=drive, args=(port, requests, share, seconds, sender))
        worker.start()
        pipes.append(receiver)
        workers.append(worker)
    latencies: list[float] = []
    errors = 0
    answers = [receiver.recv() for receiver in pipes]
    for worker in workers:
        worker.join()
    for answer in answers:
        if isinstance(answer, str):
            raise RuntimeError(f"a client process stopped: {answer}")
        latencies += answer[0]
        errors += answer[1]
    latencies.sort()
    return Result(
        requests_per_second=len(latencies) / seconds,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
        errors=errors,
    )
