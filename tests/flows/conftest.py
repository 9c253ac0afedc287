"""A company with a simulated connection, flows created and published through the API, and a contact who talks."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from db.flows import FlowSession
from db.messages import Message
from tests.openai_server import allow_loopback
from tests.waiting import wait_for
from workers.inbound import handle_inbound
from workers.transports.base import InboundMessage

_wa_ids = itertools.count(1)
PHONE = "5511987654321"


@pytest.fixture
def company(factories):
    return factories.company(timezone="America/Sao_Paulo")


@pytest.fixture
def headers(app, factories, company):
    return factories.auth_headers(app, factories.user(company, role="admin"))


@pytest.fixture
def connection(factories, company):
    return factories.connection(company, enabled=True, is_default=True)


@dataclasses.dataclass
class Bot:
    """Drives flows as a user (the API) and a contact (inbound messages), and reads what the bot said."""

    client: object
    headers: dict
    connection: object

    def create(self, definition: dict, name: str = "Flow") -> int:
        answer = self.client.post("/api/flows", json={"name": name, **definition}, headers=self.headers)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()["id"]

    def publish(self, flow_id: int) -> int:
        answer = self.client.post(f"/api/flows/{flow_id}/publish", headers=self.headers)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()["version"]

    def deploy(self, definition: dict, name: str = "Flow") -> int:
        flow_id = self.create(definition, name)
        self.publish(flow_id)
        return flow_id

    def say(self, body: str, phone: str = PHONE, name: str = "Ana Lima", **fields) -> dict:
        """The contact sends `body` (a message of another type with `fields`); returns once the bot has done all it
        does now."""
        event = InboundMessage(
            self.connection.id,
            wa_id=f"IN{next(_wa_ids):06d}",
            chat=phone,
            sender=phone,
            sender_name=name,
            body=body,
            timestamp=1_800_000_000.0,
            **fields,
        )
        result = handle_inbound.fn(event.to_dict())
        self.settle()
        return result

    @staticmethod
    def settle(timeout: float = 15) -> None:
        assert wait_for(
            lambda: not FlowSession.select().where(FlowSession.status == "running").exists(), timeout=timeout
        ), "a flow session is still running"

    @staticmethod
    def replies() -> list[str]:
        return [m.body for m in Message.select().where(Message.direction == "out").order_by(Message.id)]

    @staticmethod
    def session() -> FlowSession:
        return FlowSession.select().order_by(FlowSession.id.desc()).get()


@pytest.fixture
def bot(client, headers, connection, worker):
    return Bot(client, headers, connection)


@pytest.fixture
def loopback_allowed(monkeypatch):
    allow_loopback(monkeypatch)
