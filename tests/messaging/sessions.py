"""A transport at its boundary, made the gateway's session for a connection in this process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from workers.gateway.sessions import ManagedSession, registry


@contextlib.contextmanager
def session_on(connection_id: int, transport) -> Iterator[None]:
    """`send_message` sends through `transport` for the block's length."""
    registry._sessions[connection_id] = ManagedSession(connection_id, transport, lambda event: None)
    try:
        yield
    finally:
        registry._sessions.pop(connection_id)
