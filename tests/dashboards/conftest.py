"""Logging in to the dashboard, and real messages in Redis through the real broker."""

from __future__ import annotations

import re

import dramatiq
import pytest

from tests.factories import PASSWORD

QUEUE = "dash-demo"


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def log_in(client, email: str):
    token = csrf_of(client.get("/dashboard/login").get_data(as_text=True))
    return client.post("/dashboard/login", data={"email": email, "password": PASSWORD, "csrf": token})


def post_form(client, path: str, **fields):
    """A dashboard form as a browser sends it: with the session's CSRF token (the login page made it)."""
    with client.session_transaction() as session:
        token = session["csrf"]
    return client.post(path, data={"csrf": token, **fields})


def demo_message(actor_name: str = "nothing", *args, queue: str = QUEUE, **options) -> dramatiq.Message:
    return dramatiq.Message(queue_name=queue, actor_name=actor_name, args=args, kwargs={}, options=options)


def dead_letter(broker, message: dramatiq.Message) -> dramatiq.Message:
    """Enqueue `message` and dead-letter it as a worker does when it gives up: fetch it, then nack it.
    Call on a queue with nothing else ready, so the fetch takes this message."""
    enqueued = broker.enqueue(message)
    consumer = broker.consume(message.queue_name, prefetch=1, timeout=100)
    try:
        fetched = next(m for m in consumer if m is not None)
        assert fetched.message_id == message.message_id
        consumer.nack(fetched)
    finally:
        consumer.close()
    return enqueued


@pytest.fixture
def root(client, factories):
    """A super admin, logged in."""
    user = factories.user(role="super")
    assert log_in(client, user.email).status_code == 302
    return user
