"""A message is `sending` from the gateway's first attempt until it is sent or failed."""

from __future__ import annotations

from db.messages import Message
from db.tickets import find_or_open_ticket
from tests.messaging.sessions import session_on
from workers.inbound import upsert_contact
from workers.messages import fail_message, send_message, write_outbound
from workers.transports.base import OutgoingMessage, TransportError, send_each


class SeesTheStatus:
    """A transport at its boundary that notes what the database says of each message it is handed,
    failing the first `failures` attempts."""

    connection_id = 0

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.seen: list[tuple[str, object]] = []  # (status, sending_at) at each attempt

    def send(self, message: OutgoingMessage) -> str:
        row = Message.get(Message.wa_id == message.wa_id)
        self.seen.append((row.status, row.sending_at))
        if len(self.seen) <= self.failures:
            raise TransportError("network down")
        return message.wa_id

    def send_many(self, messages: list[OutgoingMessage]) -> list[str | TransportError]:
        return send_each(self, messages)


def attempt(message: Message, transport: SeesTheStatus) -> Exception | None:
    with session_on(message.connection_id, transport):
        try:
            send_message.fn(message.id)
        except TransportError as error:
            return error
    return None


def test_a_message_is_sending_during_its_attempts_since_the_first_then_sent(factories, database):
    company = factories.company()
    connection = factories.connection(company)
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", None, False), connection)
    message = write_outbound(ticket, "hello").message
    transport = SeesTheStatus(failures=1)

    assert isinstance(attempt(message, transport), TransportError)  # the retry goes by it
    assert Message.get_by_id(message.id).status == "sending"
    assert attempt(message, transport) is None

    (first_status, first_taken), (second_status, second_taken) = transport.seen
    assert (first_status, second_status) == ("sending", "sending")
    assert first_taken is not None and second_taken == first_taken  # a retry keeps the first attempt's time
    sent = Message.get_by_id(message.id)
    assert sent.status == "sent" and sent.sending_at == first_taken <= sent.sent_at


def test_a_message_given_up_on_says_how_many_attempts_it_had(factories, database):
    company = factories.company()
    ticket, _ = find_or_open_ticket(upsert_contact(company.id, "+5511987654321", None, False),
                                    factories.connection(company))
    message = write_outbound(ticket, "hello").message
    traceback = "Traceback (most recent call last):\nworkers.transports.base.TransportError: network down\n"

    fail_message.fn({"args": [message.id], "options": {"traceback": traceback}}, {"retries": 10, "max_retries": 10})

    failed = Message.get_by_id(message.id)
    assert (failed.status, failed.error) == ("failed", "gave up after 11 attempts: "
                                                       "workers.transports.base.TransportError: network down")
