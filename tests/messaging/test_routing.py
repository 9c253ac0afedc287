"""What a contact's first messages get back: greeting and menu, routing by the answer, out-of-hours replies."""

from __future__ import annotations

import pytest

from db.company_settings import save_company_settings
from db.messages import Message
from db.tickets import Ticket
from workers.inbound import handle_inbound
from workers.transports.base import InboundMessage

ALWAYS_CLOSED = {"mon": [["00:00", "00:01"]]}  # any day but Monday is closed, and Monday after 00:01


def inbound(connection, body: str, wa_id: str, name: str = "Ana Lima") -> dict:
    event = InboundMessage(connection.id, wa_id=wa_id, chat="5511987654321", sender="5511987654321",
                           sender_name=name, body=body, timestamp=1_800_000_000.0)
    return handle_inbound.fn(event.to_dict())


def replies() -> list[str]:
    return [m.body for m in Message.select().where(Message.direction == "out").order_by(Message.id)]


@pytest.fixture
def company(factories):
    return factories.company(timezone="America/Sao_Paulo")


def test_a_new_ticket_gets_the_queue_greeting_with_its_menu_and_the_answer_routes_it(factories, company, broker):
    sales = factories.queue(company, greeting="Vendas: um momento, {{firstName}}.")
    reception = factories.queue(company, greeting="Olá {{firstName}}! Escolha:",
                                menu_options=[{"option": "1", "label": "Vendas", "queueId": sales.id}])
    connection = factories.connection(company, default_queue=reception)

    inbound(connection, "oi", "3EB0A")
    inbound(connection, "1", "3EB0B")

    ticket = Ticket.get()
    assert (ticket.queue_id, ticket.status) == (sales.id, "pending")
    assert replies() == ["Olá Ana! Escolha:\n\n1 - Vendas", "Vendas: um momento, Ana."]
    assert [e.kind for e in ticket.events.order_by(ticket.events.model.id)] == ["created", "transferred"]


def test_an_answer_that_names_no_option_leaves_the_ticket_where_it_is(factories, company, broker):
    reception = factories.queue(company, menu_options=[{"option": "1", "label": "Vendas",
                                                        "queueId": factories.queue(company).id}])
    connection = factories.connection(company, default_queue=reception)

    inbound(connection, "oi", "3EB0A")
    inbound(connection, "quero falar com alguém", "3EB0B")

    assert Ticket.get().queue_id == reception.id


def test_out_of_hours_the_contact_gets_the_out_of_hours_message(factories, company, broker):
    closed = factories.queue(company, greeting="Olá!", business_hours=ALWAYS_CLOSED,
                             out_of_hours_message="Atendemos de segunda a sexta, das 8h às 18h.")
    connection = factories.connection(company, default_queue=closed)

    inbound(connection, "oi", "3EB0A")  # 2027-01-15, a Friday

    assert replies() == ["Atendemos de segunda a sexta, das 8h às 18h."]


def test_without_a_queue_the_connection_greets_once_per_ticket(factories, company, broker):
    connection = factories.connection(company, greeting_message="Bem-vindo, {{name}}!")

    inbound(connection, "oi", "3EB0A")
    inbound(connection, "tudo bem?", "3EB0B")
    inbound(connection, "oi", "3EB0A")  # the first message again

    assert replies() == ["Bem-vindo, Ana Lima!"]
    assert Ticket.get().unread_messages == 2


def test_a_company_that_sends_no_greetings_still_sends_the_menu_and_no_out_of_hours_reply(factories, company, broker):
    save_company_settings(company.id, {"greeting_enabled": False, "out_of_hours_enabled": False})
    sales = factories.queue(company, greeting="Vendas: um momento.")
    reception = factories.queue(company, greeting="Olá! Escolha:",
                                menu_options=[{"option": "1", "label": "Vendas", "queueId": sales.id}])
    closed = factories.queue(company, business_hours=ALWAYS_CLOSED, out_of_hours_message="Fechado.")

    inbound(factories.connection(company, default_queue=reception, greeting_message="Bem-vindo!"), "oi", "3EB0A")
    inbound(Ticket.get().connection, "1", "3EB0B")
    inbound(factories.connection(company, default_queue=closed), "oi", "3EB0C")

    assert replies() == ["1 - Vendas"]
    assert Ticket.select().order_by(Ticket.id).first().queue_id == sales.id
