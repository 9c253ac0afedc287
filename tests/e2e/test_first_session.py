"""The README's first session on the stack `make run` starts (SQLite, the simulator, no phone)."""

from __future__ import annotations

import time
from pathlib import Path


def eventually(check, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.25)


def test_send_a_message_to_read_then_a_customer_writes_in_and_the_ticket_is_there(default_stack):
    email, password = Path(default_stack.env["WHARF_VAR_DIR"], "demo-login").read_text().split()
    status, login = default_stack.call("POST", "/api/auth/login", {"email": email, "password": password})
    assert status == 200, login
    token = login["accessToken"]

    status, connection = default_stack.call("POST", "/api/connections", {"name": "Sales"}, token)
    assert status == 201, connection
    assert default_stack.call("POST", f"/api/connections/{connection['id']}/start", None, token)[0] == 202
    status, sent = default_stack.call("POST", "/api/messages", {"to": "+5511987654321", "body": "Olá!"}, token)
    assert status == 202, sent

    read = eventually(lambda: default_stack.call("GET", f"/api/messages/{sent['id']}", None, token)[1]["status"]
                      == "read")
    assert read, default_stack.call("GET", f"/api/messages/{sent['id']}", None, token)[1]
    outbox = default_stack.call("GET", f"/api/simulator/{connection['id']}/outbox", None, token)[1]
    assert [entry["body"] for entry in outbox["items"]] == ["Olá!"]
    assert outbox["items"][0]["at"].endswith("Z")  # UTC ISO 8601, as every time of the API

    status, _ = default_stack.call("POST", f"/api/simulator/{connection['id']}/inbound",
                                   {"from": "+5511912345678", "body": "Oi, preciso de ajuda", "name": "Ana"}, token)
    assert status == 202
    tickets = eventually(lambda: default_stack.call("GET", "/api/tickets?status=pending", None, token)[1]["items"])
    assert [(t["contact"]["name"], t["unreadMessages"], t["lastMessage"]) for t in tickets] == [
        ("Ana", 1, "Oi, preciso de ajuda")]
