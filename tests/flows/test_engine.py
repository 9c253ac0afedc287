"""Sessions over time: delays and timeouts (the scheduler's tick), loops stopped, version pinning, agents
and opt-outs that silence the bot, events for realtime and webhooks."""

from __future__ import annotations

import json
import time

from db.connections import Connection
from db.contacts import Contact
from db.flows import FlowSession, FlowStep
from db.messages import Message
from db.opt_outs import opt_out
from db.tickets import Ticket
from tests.flows.conftest import PHONE
from tests.flows.test_nodes import chain, keyword_flow
from tests.waiting import wait_for
from tests.webhook_receiver import allow_loopback, serving
from workers.flows.engine import resume_due_sessions
from workers.inbound import handle_inbound_batch
from workers.transports import simulator
from workers.transports.base import InboundMessage

ASK_THEN_BYE = keyword_flow(
    [
        {"id": "ask", "type": "question", "text": "Nome?", "variable": "who"},
        {"id": "bye", "type": "message", "text": "Tchau"},
    ],
    chain("ask", "bye"),
)


def wake_due_sessions(bot) -> None:
    """What the scheduler's one-second tick does, once."""
    resume_due_sessions()
    bot.settle()


def test_a_delay_waits_until_the_scheduler_wakes_the_session(bot):
    bot.deploy(
        keyword_flow(
            [
                {"id": "wait", "type": "message", "text": "Um momento..."},
                {"id": "pause", "type": "delay", "seconds": 1},
                {"id": "after", "type": "message", "text": "Pronto!"},
            ],
            chain("wait", "pause", "after"),
        )
    )

    bot.say("oi")
    wake_due_sessions(bot)
    assert bot.replies() == ["Um momento..."] and bot.session().waiting == "delay"
    bot.say("ainda aí?")  # a message does not cut a delay short
    assert bot.replies() == ["Um momento..."]

    time.sleep(1.1)
    wake_due_sessions(bot)

    assert bot.replies() == ["Um momento...", "Pronto!"]
    assert bot.session().end_reason == "completed"


def test_a_node_s_typing_shows_before_each_message_and_the_step_s_messages_go_in_order(
        bot, connection, redis_client, gateway, client, headers):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    flow_id = bot.deploy(keyword_flow(
        [
            {"id": "hi", "type": "message", "text": "Olá!", "typingMs": 800},
            {"id": "info", "type": "message", "text": "Sou o assistente."},  # no typing: just after "Olá!"
            {"id": "ask", "type": "question", "text": "Seu nome?", "variable": "who", "typingMs": 500},
        ],
        chain("hi", "info", "ask"),
    ))
    started = time.monotonic()

    bot.say("oi")

    assert wait_for(lambda: simulator.typing(redis_client, connection.id).get(PHONE, {}).get("typing"), timeout=10)
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 3, timeout=15)
    assert time.monotonic() - started >= 1.3
    assert [entry["body"] for entry in simulator.outbox(redis_client, connection.id)[0]] == [
        "Olá!", "Sou o assistente.", "Seu nome?"]
    transcript = client.post(f"/api/flows/{flow_id}/dry-run", json={}, headers=headers).get_json()["transcript"]
    assert [(line.get("text"), line.get("typingMs")) for line in transcript if line["from"] == "bot"] == [
        ("Olá!", 800), ("Sou o assistente.", None), ("Seu nome?", 500)]


def test_a_message_after_a_short_delay_still_goes_after_the_typed_one_before_it(bot, connection, redis_client,
                                                                                 gateway):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    bot.deploy(keyword_flow(
        [
            {"id": "hi", "type": "message", "text": "Um instante...", "typingMs": 3000},
            {"id": "pause", "type": "delay", "seconds": 1},
            {"id": "after", "type": "message", "text": "Pronto!"},
        ],
        chain("hi", "pause", "after"),
    ))

    bot.say("oi")
    time.sleep(1.1)
    wake_due_sessions(bot)  # the delay is over, another run; "Um instante..." still waits for its typing

    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 2, timeout=15)
    assert [entry["body"] for entry in simulator.outbox(redis_client, connection.id)[0]] == ["Um instante...",
                                                                                            "Pronto!"]


def test_what_the_bot_is_still_typing_when_an_agent_takes_the_ticket_is_not_sent(bot, connection, redis_client,
                                                                                  gateway, company, factories, client,
                                                                                  headers):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    bot.deploy(keyword_flow(
        [
            {"id": "hi", "type": "message", "text": "Olá!"},
            {"id": "ask", "type": "question", "text": "Seu nome?", "variable": "who", "typingMs": 2000},
        ],
        chain("hi", "ask"),
    ))
    bot.say("oi")
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=15)

    Ticket.get().accept(factories.user(company, role="agent").id)  # while "Seu nome?" is typed

    asked = Message.get(Message.body == "Seu nome?")
    assert wait_for(lambda: Message.get_by_id(asked.id).status == "failed", timeout=15)
    assert Message.get_by_id(asked.id).error == ("withdrawn: the bot let go of the conversation before it went "
                                                 "(agent_took_over)")
    assert [entry["body"] for entry in simulator.outbox(redis_client, connection.id)[0]] == ["Olá!"]
    shown = client.get(f"/api/messages/{asked.id}", headers=headers).get_json()
    assert (shown["status"], shown["userId"], shown["flowSessionId"]) == ("failed", None, bot.session().id)
    bot.say("Ana")
    assert bot.session().end_reason == "agent_took_over"


def test_a_hand_over_s_words_still_go_to_the_agent_s_ticket_but_not_to_a_contact_who_opted_out(
        bot, connection, redis_client, gateway, company, factories):
    assert wait_for(lambda: Connection.get_by_id(connection.id).status == "connected", timeout=20)
    agent = factories.user(company, role="agent")
    bot.deploy(keyword_flow(
        [{"id": "human", "type": "transfer", "userId": agent.id, "text": "Passando para a Ana.", "typingMs": 1000}],
        chain("human"),
    ))
    bot.say("oi")
    assert bot.session().end_reason == "transferred" and Ticket.get().user_id == agent.id
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == 1, timeout=15)

    bot.say("oi", phone="5511912345678")  # another contact, who opts out while the bot types
    opt_out(Contact.get(Contact.phone == "+5511912345678"), source="api")

    told = Message.select().where(Message.direction == "out").order_by(Message.id.desc()).get()
    assert wait_for(lambda: Message.get_by_id(told.id).status == "failed", timeout=15)
    assert Message.get_by_id(told.id).error.endswith("(opted_out)")
    assert [entry["to"] for entry in simulator.outbox(redis_client, connection.id)[0]] == [f"+{PHONE}"]


def test_what_the_contact_says_while_the_bot_is_busy_answers_its_next_question_once(bot):
    bot.deploy(
        keyword_flow(
            [
                {"id": "wait", "type": "message", "text": "Um momento..."},
                {"id": "pause", "type": "delay", "seconds": 1},
                {"id": "ask", "type": "question", "text": "Seu nome?", "variable": "nome"},
                {"id": "thanks", "type": "message", "text": "Obrigado, {{nome}}!"},
                {"id": "again", "type": "question", "text": "Sua cidade?", "variable": "cidade"},
            ],
            chain("wait", "pause", "ask", "thanks", "again"),
        )
    )
    bot.say("oi")
    bot.say("Ana")  # the bot is in its delay: the message waits for the bot

    time.sleep(1.1)
    wake_due_sessions(bot)

    assert bot.replies() == ["Um momento...", "Seu nome?", "Obrigado, Ana!", "Sua cidade?"]
    assert (bot.session().waiting, bot.session().variables["nome"]) == ("input", "Ana")


def test_in_a_backlog_the_message_after_the_trigger_answers_the_first_question(bot):
    bot.deploy(ASK_THEN_BYE)
    backlog = [InboundMessage(bot.connection.id, wa_id=f"BACKLOG{n}", chat=PHONE, sender=PHONE, body=body).to_dict()
               for n, body in enumerate(("oi", "Ana"))]

    handle_inbound_batch.fn(backlog)  # one batch, one transaction: both stored before the flow starts
    bot.settle()

    assert bot.replies() == ["Nome?", "Tchau"]
    assert bot.session().variables["who"] == "Ana"


def test_an_unanswered_question_times_out_to_its_timeout_branch_or_ends(bot):
    bot.deploy(
        keyword_flow(
            [
                {"id": "ask", "type": "question", "text": "CPF?", "variable": "cpf", "timeoutSeconds": 1},
                {"id": "late", "type": "message", "text": "Sem resposta; encerrando."},
            ],
            [{"from": "ask", "to": "late", "when": "timeout"}],
        )
    )
    bot.deploy(
        keyword_flow(
            [{"id": "q", "type": "question", "text": "Nome?", "variable": "n", "timeoutSeconds": 1}],
            [],
            keyword="outro",
        ),
        name="second",
    )

    bot.say("oi")
    time.sleep(1.1)
    wake_due_sessions(bot)
    assert bot.replies() == ["CPF?", "Sem resposta; encerrando."]

    bot.say("outro")
    time.sleep(1.1)
    wake_due_sessions(bot)
    assert (bot.session().status, bot.session().end_reason) == ("ended", "timeout")


def test_a_loop_without_input_is_stopped_by_the_step_limit(bot):
    from workers.flows.engine import MAX_STEPS_PER_INPUT

    bot.deploy(
        keyword_flow(
            [
                {"id": "a", "type": "set_variable", "variable": "x", "value": "1"},
                {
                    "id": "b",
                    "type": "condition",
                    "rules": [{"variable": "x", "operator": "equals", "value": "1"}],
                },
            ],
            [{"from": "a", "to": "b"}, {"from": "b", "to": "a", "when": "true"}],
        )
    )

    bot.say("oi")

    session = bot.session()
    assert (session.status, session.end_reason) == ("ended", "step_limit")
    assert FlowStep.select().where(FlowStep.session == session.id).count() == MAX_STEPS_PER_INPUT


def test_a_running_session_finishes_on_its_version_and_new_ones_take_the_new_one(bot, client, headers):
    flow_id = bot.deploy(
        keyword_flow(
            [
                {"id": "ask", "type": "question", "text": "v1: nome?", "variable": "who"},
                {"id": "bye", "type": "message", "text": "v1: tchau {{who}}"},
            ],
            chain("ask", "bye"),
        )
    )
    bot.say("oi")

    edited = {
        "nodes": [
            {"id": "ask", "type": "question", "text": "v2: nome?", "variable": "who"},
            {"id": "bye", "type": "message", "text": "v2: tchau {{who}}"},
        ]
    }
    assert client.patch(f"/api/flows/{flow_id}", json=edited, headers=headers).status_code == 200
    assert bot.publish(flow_id) == 2
    bot.say("Ana")
    bot.say("oi", phone="5511911112222", name="Bia")

    assert bot.replies() == ["v1: nome?", "v1: tchau Ana", "v2: nome?"]
    versions = [s.version.version for s in FlowSession.select().order_by(FlowSession.id)]
    assert versions == [1, 2]


def test_the_bot_never_talks_on_a_ticket_an_agent_accepted(bot, company, factories):
    agent = factories.user(company, role="agent")
    bot.deploy(ASK_THEN_BYE)
    bot.say("oi")

    Ticket.get().accept(agent.id)
    bot.say("Ana")
    bot.say("oi")

    assert bot.replies() == ["Nome?"]
    session = bot.session()
    assert (session.status, session.end_reason) == ("ended", "agent_took_over")
    assert FlowSession.select().count() == 1


def test_an_opted_out_contact_gets_nothing_more_from_the_bot(bot):
    bot.deploy(ASK_THEN_BYE)
    bot.say("oi")

    opt_out(Ticket.get().contact, source="api")
    bot.say("Ana")

    assert bot.replies() == ["Nome?"]
    assert bot.session().end_reason == "opted_out"


def test_session_start_and_end_reach_webhooks(bot, company, factories, monkeypatch):
    allow_loopback(monkeypatch)
    with serving() as receiver:
        factories.webhook(company, url=receiver.url, events=["flow:*"])
        bot.deploy(keyword_flow([{"id": "hi", "type": "message", "text": "Olá"}], []))

        bot.say("oi")

        assert wait_for(lambda: len(receiver.received) == 2, timeout=15)
    events = sorted(
        (json.loads(r.body)["event"], json.loads(r.body)["data"]["status"]) for r in receiver.received
    )
    assert events == [("flow:session_ended", "ended"), ("flow:session_started", "running")]
    assert all(json.loads(r.body)["data"]["ticketId"] == Ticket.get().id for r in receiver.received)


def test_a_new_ticket_trigger_replaces_the_queue_greeting(bot, company, factories, connection):
    reception = factories.queue(
        company,
        greeting="Olá! Escolha:",
        menu_options=[{"option": "1", "label": "Vendas", "queueId": factories.queue(company).id}],
    )
    connection.default_queue = reception
    connection.save()
    bot.deploy(
        {
            "trigger": {"type": "new_ticket", "connectionId": connection.id},
            "nodes": [{"id": "hi", "type": "message", "text": "Bot aqui"}],
            "edges": [],
        }
    )

    bot.say("bom dia")
    bot.say("1")  # the session ended: the queue menu routes as before

    assert bot.replies()[0] == "Bot aqui"
    assert Ticket.get().queue_id != reception.id
