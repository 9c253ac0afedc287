"""Macros: a saved run of actions done on tickets in one go, each action as its own endpoint does it; the first that
fails stops the macro on that ticket (the ones before stay done) and says why, the other tickets go on."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from db.base import utcnow
from db.macros import Macro
from db.messages import Message, QuickMessage
from db.tickets import Ticket, TicketEvent, TicketField, TicketNote, TicketTag
from db.webhooks import WebhookDelivery
from tests.waiting import wait_for
from tests.webhook_receiver import allow_loopback, serving


@pytest.fixture
def agent(factories, company):
    return factories.user(company, role="agent", name="Bia Souza")


@pytest.fixture
def as_agent(app, factories, agent):
    return factories.auth_headers(app, agent)


@pytest.fixture
def connection(factories, company):
    return factories.connection(company, farewell_message="Obrigado, {{firstName}}!")


def saved(client, headers, actions: list[dict], scope: str = "personal", name: str = "Preços") -> dict:
    answer = client.post("/api/macros", json={"name": name, "scope": scope, "actions": actions}, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def run(client, headers, macro: dict, tickets: list):
    return client.post(f"/api/macros/{macro['id']}/run", json={"ticketIds": [t.id for t in tickets]}, headers=headers)


def tags_of(ticket) -> set[int]:
    return {link.tag_id for link in TicketTag.select().where(TicketTag.ticket == ticket.id)}


def test_a_macro_replies_tags_and_snoozes_each_ticket_as_its_endpoints_would(client, factories, company, connection,
                                                                             agent, as_agent):
    vip, price, kept = (factories.tag(company, name=name) for name in ("vip", "price", "kept"))
    tickets = [factories.ticket(company, connection=connection, user=agent, status="open",
                                contact=factories.contact(company, name=name)) for name in ("Ana Lima", "João Reis")]
    TicketTag.create(ticket=tickets[0], tag=kept)
    macro = saved(client, as_agent, [
        {"type": "send_message", "body": "Oi {{firstName}}, segue a tabela."},
        {"type": "add_tags", "tagIds": [price.id, vip.id]},
        {"type": "remove_tags", "tagIds": [vip.id]},
        {"type": "snooze", "minutes": 60},
    ])

    answer = run(client, as_agent, macro, tickets)

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"done": [t.id for t in tickets], "failed": []}
    sent = Message.select().where(Message.direction == "out").order_by(Message.ticket)
    assert [(m.ticket_id, m.body, m.status, m.user_id) for m in sent] == [
        (tickets[0].id, "Oi Ana, segue a tabela.", "queued", agent.id),
        (tickets[1].id, "Oi João, segue a tabela.", "queued", agent.id)]
    assert (tags_of(tickets[0]), tags_of(tickets[1])) == ({kept.id, price.id}, {price.id})
    for ticket in tickets:
        until = Ticket.get_by_id(ticket.id).snoozed_until
        assert dt.timedelta(minutes=59) < until - utcnow() <= dt.timedelta(minutes=60)
    assert macro["actions"][3] == {"type": "snooze", "minutes": 60}


def test_the_first_action_that_fails_stops_the_macro_on_that_ticket_and_the_others_go_on(
        client, factories, company, connection, agent, as_agent):
    live = factories.ticket(company, connection=connection, status="pending",
                            contact=factories.contact(company, name="Ana Lima"))
    closed = factories.ticket(company, connection=connection, status="closed", user=agent)
    unseen = factories.ticket(company, connection=connection, status="open", user=factories.user(company, role="agent"))
    macro = saved(client, as_agent, [{"type": "note", "body": "Cliente pediu desconto"}, {"type": "accept"},
                                     {"type": "close"}])

    answer = run(client, as_agent, macro, [live, closed, unseen])

    assert answer.get_json()["done"] == [live.id]
    assert answer.get_json()["failed"] == [
        {"ticketId": closed.id, "action": 1, "error": "conflict", "statusCode": 409,
         "message": "the ticket is closed; reopen it instead"},
        {"ticketId": unseen.id, "action": None, "error": "not_found", "statusCode": 404, "message": "ticket not found"}]
    assert [Ticket.get_by_id(t.id).status for t in (live, closed, unseen)] == ["closed", "closed", "open"]
    assert [e.kind for e in TicketEvent.select().where(TicketEvent.ticket == live.id).order_by(TicketEvent.id)] == [
        "accepted", "closed"]
    assert [m.body for m in Message.select().where(Message.ticket == live.id)] == ["Obrigado, Ana!"]  # farewell
    assert [note.ticket_id for note in TicketNote.select().order_by(TicketNote.id)] == [live.id, closed.id]


def test_personal_macros_are_their_authors_and_company_ones_are_everyones_written_by_managers(
        client, app, factories, company, as_agent, as_admin):
    mine = saved(client, as_agent, [{"type": "read"}], name="Lido")
    other_agent = factories.auth_headers(app, factories.user(company, role="agent"))
    shared = saved(client, as_admin, [{"type": "priority", "priority": "high"}], scope="company", name="Urgente")
    program = {"X-API-Key": factories.api_key(company, ["tickets:write"])}

    by_agent = client.post("/api/macros", json={"name": "x", "scope": "company", "actions": [{"type": "read"}]},
                           headers=as_agent)
    agent_edits_shared = client.patch(f"/api/macros/{shared['id']}", json={"name": "y"}, headers=as_agent)
    program_personal = client.post("/api/macros", json={"name": "x", "actions": [{"type": "read"}]}, headers=program)

    assert [m["name"] for m in client.get("/api/macros", headers=as_agent).get_json()["items"]] == ["Lido", "Urgente"]
    assert [m["id"] for m in client.get("/api/macros", headers=other_agent).get_json()["items"]] == [shared["id"]]
    assert client.get(f"/api/macros/{mine['id']}", headers=other_agent).status_code == 404
    assert client.get("/api/macros", headers=program).get_json()["items"][0]["scope"] == "company"
    assert (by_agent.status_code, agent_edits_shared.status_code) == (403, 403)
    assert (program_personal.status_code, program_personal.get_json()["details"]) == (400, {"scope": "not personal"})
    assert client.delete(f"/api/macros/{mine['id']}", headers=as_agent).status_code == 204
    assert Macro.select().count() == 1


def test_a_macro_sets_the_tickets_own_fields(client, factories, company, connection, agent, as_agent):
    TicketField.create(company=company, key="reason", label="Reason")
    TicketField.create(company=company, key="refund", label="Refund", type="boolean")
    tickets = [factories.ticket(company, connection=connection, user=agent, status="open", custom_fields=fields)
               for fields in ({"refund": False}, None)]
    macro = saved(client, as_agent, [{"type": "custom_fields", "customFields": {"reason": "Reembolso", "refund": True}}])

    assert run(client, as_agent, macro, tickets).get_json() == {"done": [t.id for t in tickets], "failed": []}
    assert [Ticket.get_by_id(t.id).custom_fields for t in tickets] == [{"refund": True, "reason": "Reembolso"}] * 2


@pytest.mark.parametrize("actions, field", [
    ([], "actions"),
    ([{"type": "shout"}], "actions.0"),
    ([{"type": "send_message"}], "actions.0.send_message"),
    ([{"type": "add_tags", "tagIds": [999]}], "actions[0]"),
    ([{"type": "read"}, {"type": "transfer", "queueId": 999}], "actions[1]"),
    ([{"type": "snooze", "minutes": 0}], "actions.0.snooze.minutes"),
    ([{"type": "custom_fields", "customFields": {"shoe": 42}}], "actions[0]"),
], ids=["none", "unknown type", "empty reply", "unknown tag", "unknown queue", "no time", "unknown ticket field"])
def test_a_macro_that_could_not_run_is_a_400_naming_the_action(client, as_agent, actions, field):
    answer = client.post("/api/macros", json={"name": "m", "actions": actions}, headers=as_agent)

    assert answer.status_code == 400, answer.get_json()
    assert any(key.startswith(field) for key in answer.get_json()["details"]), answer.get_json()["details"]
    assert Macro.select().count() == 0


def test_a_tag_deleted_since_the_macro_was_saved_is_a_409_that_changes_no_ticket(client, factories, company,
                                                                                connection, as_agent):
    tag = factories.tag(company, name="price")
    ticket = factories.ticket(company, connection=connection, status="pending")
    macro = saved(client, as_agent, [{"type": "accept"}, {"type": "add_tags", "tagIds": [tag.id]}])
    tag.delete_instance()

    answer = run(client, as_agent, macro, [ticket])

    assert (answer.status_code, answer.get_json()["details"]) == (409, {"actions[1]": "tag not found"})
    assert Ticket.get_by_id(ticket.id).status == "pending"


def test_a_macro_sends_a_quick_message_filled_in_for_each_ticket(client, factories, company, connection, agent,
                                                                  as_agent):
    quick = QuickMessage.create(company=company, shortcut="pix", body="{{firstName}}, a chave Pix é 12345.")
    ticket = factories.ticket(company, connection=connection, user=agent, status="open",
                              contact=factories.contact(company, name="Caio Dias"))
    macro = saved(client, as_agent, [{"type": "send_message", "quickMessageId": quick.id}])

    assert run(client, as_agent, macro, [ticket]).get_json() == {"done": [ticket.id], "failed": []}
    assert [m.body for m in Message.select().where(Message.ticket == ticket.id)] == ["Caio, a chave Pix é 12345."]


def test_a_macros_webhook_gets_the_macro_who_ran_it_and_each_ticket_as_the_actions_before_left_it_signed(
        client, factories, company, connection, agent, as_agent, worker, monkeypatch):
    allow_loopback(monkeypatch)
    tickets = [factories.ticket(company, connection=connection, user=agent, status="open") for _ in range(2)]
    with serving() as receiver:
        hook = factories.webhook(company, url=receiver.url, events=["lead:new"], secret="s3cret")
        macro = saved(client, as_agent, [{"type": "priority", "priority": "urgent"},
                                         {"type": "webhook", "webhookId": hook.id}], name="Escalar")

        answer = run(client, as_agent, macro, tickets)

        assert wait_for(lambda: len(receiver.received) == 2)
        worker.join()
    bodies = sorted((json.loads(received.body) for received in receiver.received),
                    key=lambda body: body["data"]["ticket"]["id"])
    assert answer.get_json() == {"done": [t.id for t in tickets], "failed": []}
    assert all(received.signature_is_valid("s3cret") for received in receiver.received)
    assert [(body["event"], body["data"]["ticket"]["id"], body["data"]["ticket"]["priority"]) for body in bodies] == [
        ("macro:run", tickets[0].id, "urgent"), ("macro:run", tickets[1].id, "urgent")]
    assert {(body["data"]["macro"]["id"], body["data"]["macro"]["name"], body["data"]["userId"]) for body in bodies} == {
        (macro["id"], "Escalar", agent.id)}


def test_a_macros_webhook_of_another_company_is_a_400_and_a_disabled_one_fails_the_run_on_each_ticket(
        client, factories, company, connection, agent, as_agent):
    theirs = factories.webhook(factories.company(), url="https://example.com/hook", events=["*"])
    ours = factories.webhook(company, url="https://example.com/hook", events=["*"])
    ticket = factories.ticket(company, connection=connection, user=agent, status="open")
    macro = saved(client, as_agent, [{"type": "webhook", "webhookId": ours.id}, {"type": "read"}])
    ours.enabled = False
    ours.save()

    foreign = client.post("/api/macros", json={"name": "m", "actions": [{"type": "webhook", "webhookId": theirs.id}]},
                          headers=as_agent)
    answer = run(client, as_agent, macro, [ticket])

    assert (foreign.status_code, foreign.get_json()["details"]) == (400, {"actions[0]": "webhook not found"})
    assert answer.get_json()["failed"] == [{"ticketId": ticket.id, "action": 0, "error": "conflict", "statusCode": 409,
                                            "message": f"the webhook {ours.id} is disabled"}]
    assert WebhookDelivery.select().count() == 0
