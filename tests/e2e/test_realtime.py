"""Socket.IO against the supervisord stack: the `realtime` program on REALTIME_PORT, by WebSocket and long-polling."""

import urllib.request

import pytest
import socketio

from tests.waiting import wait_for

pytestmark = pytest.mark.e2e


def realtime_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/socket.io/?EIO=4&transport=polling", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_a_connection_started_through_the_api_is_announced_to_websocket_and_polling_clients(stack):
    url = f"http://127.0.0.1:{stack.env['REALTIME_PORT']}"
    assert wait_for(lambda: realtime_answers(url), timeout=30)
    status, signup = stack.call(
        "POST", "/api/auth/signup",
        {"companyName": "Live Co", "name": "Liv", "email": "liv@example.com", "password": "long-enough-pw"},
    )
    assert status == 201
    token = signup["accessToken"]
    events: dict[str, list] = {"websocket": [], "polling": []}
    clients = {transport: socketio.Client(reconnection=False) for transport in events}
    for transport, client in clients.items():
        client.on("*", lambda event, data=None, seen=events[transport]: seen.append((event, data)))
        client.connect(url, auth={"token": token}, transports=[transport], wait_timeout=10)
    try:
        status, connection = stack.call("POST", "/api/connections", {"name": "Front desk"}, token=token)
        assert status == 201
        assert stack.call("POST", f"/api/connections/{connection['id']}/start", token=token)[0] == 202

        # The gateway connects the simulator session; a worker records it and emits through Redis.
        for seen in events.values():
            assert wait_for(lambda seen=seen: any(name == "whatsapp:ready" for name, _ in seen), timeout=60), seen
            ready = next(data for name, data in seen if name == "whatsapp:ready")
            assert ready["connectionId"] == connection["id"] and ready["status"] == "connected"
    finally:
        for client in clients.values():
            client.disconnect()
