"""Connection status from the gateway's session events: connected, QR, disconnected, logged out."""

from __future__ import annotations

import dramatiq

from db.base import utcnow
from db.connection_events import record_connection_status
from db.connections import Connection
from workers.acks import receipt_time
from workers.ban_signals import report_logout
from workers.events import publish

STATUS_FOR_EVENT = {
    "connected": "connected",
    "qr": "qr",
    "pair_code": "qr",
    "disconnected": "disconnected",
    "logged_out": "logged_out",
}
REALTIME_EVENT = {
    "connected": "whatsapp:ready",
    "qr": "whatsapp:qr",
    "pair_code": "whatsapp:qr",
    "disconnected": "whatsapp:disconnected",
    "logged_out": "whatsapp:disconnected",
}


@dramatiq.actor(queue_name="connections", max_retries=10)
def record_connection_event(event: dict, at: float | None = None) -> None:
    """Record a session event on its connection, ignoring one older than the last recorded.

    Messages can arrive out of order; `last_seen_at` orders them, so a late "disconnected"
    never overwrites the "connected" that followed it.
    """
    kind = event["kind"]
    status = STATUS_FOR_EVENT.get(kind)
    if status is None:
        return
    when = receipt_time(at) if at is not None else utcnow()
    fields = {Connection.status: status, Connection.last_seen_at: when}
    if kind == "connected":
        fields[Connection.last_error] = None
        if event.get("phone"):
            fields[Connection.phone] = event["phone"]
    elif kind == "disconnected":
        fields[Connection.reconnects] = Connection.reconnects + 1
        fields[Connection.last_error] = event.get("reason")
    elif kind == "logged_out":
        fields[Connection.enabled] = False
        fields[Connection.last_error] = event.get("reason")
    record_connection_status(event["connection_id"], status, when, event.get("reason"))
    updated = Connection.update(fields).where(
        Connection.id == event["connection_id"],
        Connection.last_seen_at.is_null() | (Connection.last_seen_at <= when),
    ).execute()
    if not updated:
        return
    connection = Connection.get_by_id(event["connection_id"])
    data = {"connectionId": connection.id, "status": connection.status}
    if kind in ("qr", "pair_code"):
        data["qr" if kind == "qr" else "pairCode"] = event.get("code")
    if event.get("reason"):
        data["reason"] = event["reason"]
    publish(REALTIME_EVENT[kind], connection.company_id, data, connection_ids=(connection.id,))
    if kind == "logged_out":
        report_logout(connection.id, event.get("reason") or "")
