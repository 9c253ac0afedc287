"""An inbound message redelivered after its worker died, or after its follow-up failed: what the first
handling did not finish (events, greeting, menu, bot) is done once, and nothing it did is done twice.

A crash between the batch's commit and its follow-ups is what `record_inbound` alone leaves behind; a
crash after the follow-ups but before their mark is a message set pending again. A failure is real: a
PostgreSQL trigger refuses the reply's insert until it is dropped.
"""

from __future__ import annotations

import pytest

from db.base import database
from db.bulk import insert_models
from db.company_settings import save_company_settings
from db.contacts import Contact
from db.messages import Message, PendingFollowUp
from db.opt_outs import is_opted_out
from db.tickets import Ticket
from tests.flows.conftest import Bot
from tests.flows.test_nodes import keyword_flow
from tests.messaging.test_inbound_batch import ANA, BIA, inbound, realtime  # noqa: F401 (a fixture)
from tests.workers.import_helpers import on_sqlite
from workers.inbound import FollowUpFailed, handle_inbound, handle_inbound_batch, record_inbound


def replies() -> list[str]:
    return [m.body for m in Message.select().where(Message.direction == "out").order_by(Message.id)]


def pending() -> list[str]:
    return [m.wa_id for m in Message.select(Message.wa_id).join(PendingFollowUp).order_by(Message.id)]


def set_pending(*wa_ids: str) -> None:
    insert_models([PendingFollowUp(message=m.id) for m in Message.select(Message.id).where(Message.wa_id.in_(wa_ids))])


@pytest.fixture
def menu(factories):
    """Reception asks for a choice; "1" is Sales, whose own menu also has a "1" (Support)."""
    company = factories.company()
    support = factories.queue(company, greeting="Suporte.")
    sales = factories.queue(company, greeting="Vendas.",
                            menu_options=[{"option": "1", "label": "Suporte", "queueId": support.id}])
    reception = factories.queue(company, greeting="Olá! Escolha:",
                                menu_options=[{"option": "1", "label": "Vendas", "queueId": sales.id}])
    return factories.connection(company, default_queue=reception), sales


def test_a_redelivery_after_the_commit_publishes_greets_and_routes_once(menu, broker, realtime):  # noqa: F811
    connection, sales = menu
    backlog = [inbound(connection, "3EB01", ANA, "oi"), inbound(connection, "3EB02", ANA, "1")]
    record_inbound(connection, backlog)  # the worker died here: stored, nothing followed
    assert (pending(), replies()) == (["3EB01", "3EB02"], [])

    results = handle_inbound_batch.fn(backlog)  # Dramatiq's redelivery of the batch

    ticket = Ticket.get()
    assert [r["ticketCreated"] for r in results] == [True, False]
    assert replies() == ["Olá! Escolha:\n\n1 - Vendas", "Vendas.\n\n1 - Suporte"]
    assert ticket.queue_id == sales.id
    assert [e for e, _ in realtime()] == ["ticket:new", "message:new", "ticket:update", "message:new",
                                          "message:new", "ticket:update", "message:new"]  # greeting, move, Sales' greeting
    assert pending() == []
    assert handle_inbound_batch.fn(backlog) == [{"duplicate": "3EB01"}, {"duplicate": "3EB02"}]
    assert len(replies()) == 2


def test_a_redelivery_after_the_follow_ups_sends_no_reply_twice_and_moves_no_ticket_twice(menu, broker):
    connection, sales = menu
    backlog = [inbound(connection, "3EB01", ANA, "oi"), inbound(connection, "3EB02", ANA, "1")]
    handle_inbound_batch.fn(backlog)
    set_pending("3EB01")  # the worker died before clearing the batch's; the move cleared its own when it committed

    handle_inbound_batch.fn(backlog)

    assert replies() == ["Olá! Escolha:\n\n1 - Vendas", "Vendas.\n\n1 - Suporte"]
    assert Ticket.get().queue_id == sales.id  # "1" was not read again as an answer to Sales' menu
    assert [e.kind for e in Ticket.get().events] == ["created", "transferred"]
    assert pending() == []


def test_a_redelivery_after_the_commit_greets_once_on_sqlite_too(tmp_path, factories, broker):
    with on_sqlite(tmp_path):
        connection = factories.connection(factories.company(), greeting_message="Olá!")
        event = inbound(connection, "3EB01", ANA, "oi")
        record_inbound(connection, [event])  # the worker died after the commit

        assert handle_inbound.fn(event)["ticketCreated"] is True
        assert handle_inbound.fn(event) == {"duplicate": "3EB01"}
        assert (pending(), replies()) == ([], ["Olá!"])


def test_a_ticket_closed_before_the_redelivery_gets_no_greeting(factories, broker):
    connection = factories.connection(factories.company(), greeting_message="Olá!")
    event = inbound(connection, "3EB01", ANA, "oi")
    record_inbound(connection, [event])  # the worker died after the commit
    Ticket.get().close(None)  # an agent closed it meanwhile

    handle_inbound.fn(event)

    assert (pending(), replies()) == ([], [])


def test_an_opt_out_redelivered_before_or_after_its_follow_up_is_answered_once(factories, broker):
    connection = factories.connection(factories.company(), greeting_message="Olá!")
    save_company_settings(connection.company_id, {"opt_out_keywords": ["sair"], "opt_out_reply": "Pronto."})
    handle_inbound.fn(inbound(connection, "3EB01", ANA, "oi"))
    leaving = inbound(connection, "3EB02", ANA, "SAIR")
    record_inbound(connection, [leaving])  # the worker died after the commit

    assert handle_inbound.fn(leaving)["optedOut"] is True
    set_pending("3EB02")  # ... or after the follow-up, before clearing it
    handle_inbound.fn(leaving)

    assert replies() == ["Olá!", "Pronto."]
    assert is_opted_out(Contact.get(Contact.phone == f"+{ANA}"))


def test_a_failed_greeting_leaves_its_message_pending_and_the_retry_sends_it(factories, broker, realtime):  # noqa: F811
    connection = factories.connection(factories.company(), greeting_message="Olá!")
    database.execute_sql(
        "CREATE FUNCTION refuse_replies() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; "
        "CREATE TRIGGER refuse_replies BEFORE INSERT ON message FOR EACH ROW "
        "WHEN (NEW.direction = 'out') EXECUTE FUNCTION refuse_replies()")
    try:
        results = handle_inbound_batch.fn([inbound(connection, "3EB01", ANA), inbound(connection, "3EB02", BIA)])
        assert results == [{"retried": "3EB01"}, {"retried": "3EB02"}]  # each sent again alone
        with pytest.raises(FollowUpFailed):
            handle_inbound.fn(inbound(connection, "3EB01", ANA))
        assert (pending(), replies()) == (["3EB01", "3EB02"], [])
    finally:
        database.execute_sql("DROP TRIGGER refuse_replies ON message; DROP FUNCTION refuse_replies()")

    result = handle_inbound.fn(inbound(connection, "3EB01", ANA))  # Dramatiq's retry, once the fault is gone

    assert result["ticketCreated"] is True
    assert (pending(), replies()) == (["3EB02"], ["Olá!"])
    announced = [data["id"] for event, data in realtime() if event == "message:new"]
    assert sorted(announced) == sorted(m.id for m in Message.select())  # each once, through every retry


def test_a_redelivered_message_that_started_a_finished_flow_does_not_start_it_again(client, factories, worker):
    company = factories.company()
    connection = factories.connection(company, greeting_message="Olá!")
    bot = Bot(client, factories.auth_headers(client.application, factories.user(company)), connection)
    bot.deploy(keyword_flow([{"id": "hi", "type": "message", "text": "Bot aqui."}], []))
    event = inbound(connection, "3EB01", ANA, "oi")
    handle_inbound.fn(event)
    bot.settle()
    set_pending("3EB01")

    handle_inbound.fn(event)
    bot.settle()

    assert replies() == ["Bot aqui."]  # neither a second session nor the greeting the bot kept quiet
    assert pending() == []
