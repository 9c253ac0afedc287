"""Transports by name: `build_transport(connection.transport, connection.id, **options)`."""

from __future__ import annotations

from typing import Any

from workers.transports.base import Transport, keeps_groups

TRANSPORT_KINDS = ("simulator", "neonize")


def build_transport(kind: str, connection_id: int, **options: Any) -> Transport:
    """A new, unconnected transport. Options: `redis_url` (simulator); `database` (neonize); `pair_phone`;
    `ignores_groups` (a callable: drop the groups' messages as they arrive, before their files are fetched)."""
    ignores_groups = options.get("ignores_groups", keeps_groups)
    if kind == "simulator":
        from workers.transports.simulator_session import SimulatorTransport

        return SimulatorTransport(connection_id, redis_url=options["redis_url"], pair_phone=options.get("pair_phone"),
                                  ignores_groups=ignores_groups)
    if kind == "neonize":
        from workers.transports.neonize_transport import NeonizeTransport

        return NeonizeTransport(connection_id, database=options["database"], pair_phone=options.get("pair_phone"),
                                ignores_groups=ignores_groups)
    raise ValueError(f"unknown transport {kind!r}; known: {', '.join(TRANSPORT_KINDS)}")
