"""Fixtures the worker tests share: a real webhook receiver on loopback."""

import pytest

from tests.webhook_receiver import allow_loopback, fast_retries, serving


@pytest.fixture
def receiver(monkeypatch):
    """A receiver that deliveries may reach (loopback allowed), retried without waiting."""
    allow_loopback(monkeypatch)
    fast_retries(monkeypatch)
    with serving() as receiver:
        yield receiver
