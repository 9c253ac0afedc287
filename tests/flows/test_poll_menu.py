"""A menu asked as a WhatsApp poll (`poll: true`): the bot sends a poll of the options, and the contact's vote is
their answer, as if they wrote the option (workers/flows/engine.py, `answer_with_vote`); a written answer still
counts. Through the API, a worker, the gateway and the simulated network, where the contact votes as WhatsApp
carries a vote (by the options' hashes)."""

from __future__ import annotations

import pytest

from db.flows import FlowSession
from db.messages import Message, PollVote
from tests.waiting import wait_for
from workers.acks import receipt_time
from workers.events import announcing
from workers.message_changes import handle_poll_vote, record_vote
from workers.transports import simulator
from workers.transports.base import PollVoted, option_hash

PHONE = "+5511987654321"
POLL_MENU = {
    "trigger": {"type": "keyword", "value": "menu"},
    "nodes": [
        {"id": "ask", "type": "menu", "poll": True, "text": "Olá {{firstName}}! Como podemos ajudar?",
         "options": ["Pedidos", "Falar com alguém"], "invalidMessage": "Escolha uma opção da enquete."},
        {"id": "orders", "type": "end", "text": "Seus pedidos estão a caminho."},
        {"id": "human", "type": "end", "text": "Já chamamos alguém."},
    ],
    "edges": [{"from": "ask", "to": "orders", "when": "1"}, {"from": "ask", "to": "human", "when": "2"}],
}


@pytest.fixture
def live(client, headers, connection, redis_client, worker, gateway):
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    flow_id = client.post("/api/flows", json={"name": "Atendimento", **POLL_MENU}, headers=headers).get_json()["id"]
    assert client.post(f"/api/flows/{flow_id}/publish", headers=headers).status_code == 201
    return connection


def say(client, headers, connection, body: str) -> None:
    answer = client.post(f"/api/simulator/{connection.id}/inbound", json={"from": PHONE, "body": body,
                                                                          "name": "Ana Lima"}, headers=headers)
    assert answer.status_code == 202, answer.get_json()


def sent() -> list[Message]:
    return list(Message.select().where(Message.direction == "out").order_by(Message.id))


def bot_said(count: int) -> list[Message]:
    assert wait_for(lambda: len(sent()) == count and all(m.status != "queued" for m in sent()), timeout=20), [
        m.body for m in sent()]
    return sent()


def test_the_contacts_vote_on_the_bots_poll_answers_the_menu(client, headers, live, redis_client):
    say(client, headers, live, "menu")
    [poll] = bot_said(1)
    simulator.inject_vote(redis_client, live.id, PHONE, poll.wa_id, ["Falar com alguém"])
    [_, answer] = bot_said(2)
    simulator.inject_vote(redis_client, live.id, PHONE, poll.wa_id, ["Pedidos"])  # a change of mind comes too late

    assert (poll.type, poll.poll) == ("poll", {"name": "Olá Ana! Como podemos ajudar?",
                                               "options": ["Pedidos", "Falar com alguém"], "selectable_count": 1})
    shown = simulator.outbox(redis_client, live.id)[0]
    assert [entry["poll"]["options"] for entry in shown if entry.get("poll")] == [["Pedidos", "Falar com alguém"]]
    assert answer.body == "Já chamamos alguém."
    session = FlowSession.get()
    assert (session.status, session.end_reason, session.variables["ask"]) == ("ended", "completed", "2")
    assert wait_for(lambda: client.get(f"/api/messages/{poll.id}", headers=headers).get_json()["poll"]["options"][0]
                    ["votes"] == 1, timeout=20)  # the later vote is kept on the poll, and moves no bot
    assert len(sent()) == 2


def test_a_written_answer_still_counts_and_a_wrong_one_asks_with_a_new_poll_whose_vote_alone_counts(
        client, headers, live, redis_client):
    say(client, headers, live, "menu")
    [first_poll] = bot_said(1)
    say(client, headers, live, "talvez")
    [_, invalid, second_poll] = bot_said(3)
    simulator.inject_vote(redis_client, live.id, PHONE, first_poll.wa_id, ["Falar com alguém"])  # the old poll
    assert wait_for(lambda: PollVote.select().where(PollVote.message == first_poll.id).exists(), timeout=20)
    say(client, headers, live, "pedidos")

    [*_, answer] = bot_said(4)
    assert (invalid.body, second_poll.type) == ("Escolha uma opção da enquete.", "poll")
    assert answer.body == "Seus pedidos estão a caminho."
    assert FlowSession.get().variables["ask"] == "1"


def test_a_vote_delivered_again_after_a_crash_still_answers_the_bot_once(bot, connection):
    bot.deploy(POLL_MENU)
    bot.say("menu")
    poll = Message.get(Message.type == "poll")
    vote = PollVoted(connection.id, wa_id=poll.wa_id, chat=PHONE.lstrip("+"), sender=PHONE.lstrip("+"),
                     option_hashes=(option_hash("Falar com alguém"),), timestamp=1_800_000_100.0).to_dict()
    with announcing() as announcements:  # what the first delivery committed before its worker died
        record_vote(poll, PHONE, ["Falar com alguém"], receipt_time(vote["timestamp"]), announcements)

    again = handle_poll_vote.fn(vote)
    bot.settle()
    once_more = handle_poll_vote.fn(vote)
    bot.settle()

    assert (again["changed"], again["answeredBot"], once_more["answeredBot"]) == (False, True, False)
    assert bot.replies()[1:] == ["Já chamamos alguém."]


def test_a_dry_run_shows_the_poll_the_bot_would_send(client, headers):
    flow_id = client.post("/api/flows", json={"name": "Atendimento", **POLL_MENU}, headers=headers).get_json()["id"]

    answer = client.post(f"/api/flows/{flow_id}/dry-run", json={"answers": ["Falar com alguém"]}, headers=headers)

    [asked, _, done] = answer.get_json()["transcript"]
    assert asked["poll"] == {"name": "Olá! Como podemos ajudar?", "options": ["Pedidos", "Falar com alguém"]}
    assert done["text"] == "Já chamamos alguém."


def menu_with(**changes) -> dict:
    return {"name": "Atendimento", **POLL_MENU, "nodes": [{**POLL_MENU["nodes"][0], **changes}, *POLL_MENU["nodes"][1:]]}


@pytest.mark.parametrize("definition, where, says", [
    (menu_with(options=["Pedidos"]), "nodes.ask.options", "2 to 12 options"),
    (menu_with(options=[str(n) for n in range(13)]), "nodes.ask.options", "2 to 12 options"),
    (menu_with(options=["Pedidos", "PEDIDOS"]), "nodes.ask.options", "all different"),
    (menu_with(options=["Pedidos", "x" * 101]), "nodes.ask.options", "1 to 100 characters"),
    (menu_with(text=""), "nodes.ask.text", "the poll's question"),
    (menu_with(text="?" * 256), "nodes.ask.text", "the poll's question"),
    (menu_with(poll="yes"), "nodes.ask.poll", "true"),
    ({"name": "Atendimento", **POLL_MENU, "nodes": [*POLL_MENU["nodes"][:2], {**POLL_MENU["nodes"][2], "poll": True}]},
     "nodes.human.poll", "only a menu"),
], ids=["one option", "13 options", "same but for case", "long option", "no question", "long question",
        "not true", "not a menu"])
def test_a_poll_menu_whatsapp_would_not_take_is_a_400_naming_it(client, headers, definition, where, says):
    answer = client.post("/api/flows", json=definition, headers=headers)

    assert answer.status_code == 400
    assert says in answer.get_json()["details"][where]


def test_a_vote_on_another_poll_answers_no_menu(bot, connection, company, factories):
    bot.deploy(POLL_MENU)
    bot.say("menu")
    ticket = Message.get(Message.type == "poll").ticket
    survey = factories.message(ticket, direction="out", type="poll", wa_id="3EB0SURVEY",
                               poll={"name": "Nota?", "options": ["Pedidos", "Falar com alguém", "Outro"],
                                     "selectable_count": 1})
    vote = PollVoted(connection.id, wa_id=survey.wa_id, chat=PHONE.lstrip("+"), sender=PHONE.lstrip("+"),
                     option_hashes=(option_hash("Falar com alguém"),), timestamp=1_900_000_000.0).to_dict()

    assert handle_poll_vote.fn(vote)["answeredBot"] is False
    assert FlowSession.get().status == "waiting"
