"""Many sends at once to the `api` program, whose processes commit concurrent sends together
(api/group_commit.py): on PostgreSQL and on the SQLite file `make run` uses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.test_first_session import eventually

SENDS = 60
PHONES = 6


@pytest.fixture(params=["stack", "default_stack"])
def any_stack(request):
    return request.getfixturevalue(request.param)


def test_sixty_sends_at_once_are_each_answered_once_and_each_reach_the_phone_once(any_stack):
    email, password = Path(any_stack.env["WHARF_VAR_DIR"], "demo-login").read_text().split()
    token = any_stack.call("POST", "/api/auth/login", {"email": email, "password": password})[1]["accessToken"]
    status, connection = any_stack.call("POST", "/api/connections", {"name": "Burst"}, token)
    assert status == 201, connection
    assert any_stack.call("POST", f"/api/connections/{connection['id']}/start", None, token)[0] == 202
    for n in range(PHONES):  # each conversation opened first, so the burst is all sends to known tickets
        body = {"connectionId": connection["id"], "to": f"+55119876543{n:02d}", "body": f"opening {n}"}
        assert any_stack.call("POST", "/api/messages", body, token)[0] == 202

    def send(n: int) -> tuple[int, dict]:
        body = {"connectionId": connection["id"], "to": f"+55119876543{n % PHONES:02d}", "body": f"burst {n}"}
        return any_stack.call("POST", "/api/messages", body, token)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(SENDS)))

    assert [status for status, _ in answers] == [202] * SENDS, [sent for status, sent in answers if status != 202]
    ids = [sent["id"] for _, sent in answers]
    assert len(set(ids)) == SENDS
    bodies = {sent_id: f"burst {n}" for n, sent_id in enumerate(ids)}
    assert all(any_stack.call("GET", f"/api/messages/{sent_id}", None, token)[1]["body"] == body
               for sent_id, body in bodies.items())

    def outbox() -> list[str]:
        page = any_stack.call("GET", f"/api/simulator/{connection['id']}/outbox?pageSize=200", None, token)[1]
        return [entry["body"] for entry in page["items"]]

    assert eventually(lambda: len(outbox()) >= SENDS + PHONES, seconds=60), len(outbox())
    received = outbox()
    assert sorted(received) == sorted([f"burst {n}" for n in range(SENDS)] + [f"opening {n}" for n in range(PHONES)])
    assert eventually(lambda: all(any_stack.call("GET", f"/api/messages/{sent_id}", None, token)[1]["status"] == "read"
                                  for sent_id in ids), seconds=60)
