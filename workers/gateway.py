"""`wharf gateway`: the process that holds the live WhatsApp sessions.

For now it only announces itself: it keeps a heartbeat in Redis, which the dashboard and
`/readyz` can read, until it is told to stop. Sessions arrive with the messaging pipeline.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from wharf.redis_client import redis_client

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5


def heartbeat_key() -> str:
    return f"wharf:gateway:heartbeat:{socket.gethostname()}:{os.getpid()}"


def run_gateway() -> None:
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    key = heartbeat_key()
    logger.info("gateway %s started", key)
    while not stopping.is_set():
        redis_client().set(key, "alive", ex=HEARTBEAT_SECONDS * 3)
        stopping.wait(HEARTBEAT_SECONDS)
    redis_client().delete(key)
    logger.info("gateway %s stopped", key)
