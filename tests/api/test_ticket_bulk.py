"""Bulk ticket actions: one action on many tickets, each ticket acted on as its own endpoint would (checks,
history, `ticket:update`), failures reported per ticket without stopping or undoing the others."""

from __future__ import annotations

import datetime as dt

import pytest

from api.resources.ticket_bulk import ACTIONS, TicketBulkIn
from api.schemas import iso_utc
from db.base import utcnow
from db.messages import Message
from db.queues import UserQueue
from db.tickets import Ticket, TicketEvent, TicketField, TicketNote, TicketTag
from tests.messaging.test_inbound_batch import realtime  # noqa: F401 (a fixture)


@pytest.fixture
def connection(factories, company):
    return factories.connection(company, farewell_message="Obrigado pelo contato!")


def bulk(client, headers, action: str, tickets: list, **fields):
    ids = [ticket if isinstance(ticket, int) else ticket.id for ticket in tickets]
    return client.post("/api/tickets/bulk", json={"ticketIds": ids, "action": action, **fields}, headers=headers)


def statuses(*tickets) -> list[str]:
    return [Ticket.get_by_id(ticket.id).status for ticket in tickets]


def kinds(ticket) -> list[str]:
    return [event.kind for event in TicketEvent.select().where(TicketEvent.ticket == ticket.id).order_by(TicketEvent.id)]


def test_accept_opens_every_ticket_for_the_caller_and_records_each(client, factories, company, connection, admin,
                                                                  as_admin, realtime):  # noqa: F811
    tickets = [factories.ticket(company, connection=connection) for _ in range(3)]

    answer = bulk(client, as_admin, "accept", tickets)

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {"done": [t.id for t in tickets], "failed": []}
    assert all(Ticket.get_by_id(t.id).user_id == admin.id for t in tickets) and statuses(*tickets) == ["open"] * 3
    assert all(kinds(t) == ["accepted"] for t in tickets)
    updates = [data for event, data in realtime() if event == "ticket:update"]
    assert sorted(data["id"] for data in updates) == [t.id for t in tickets]
    assert {data["status"] for data in updates} == {"open"}


def test_close_sends_each_farewell_and_a_closed_ticket_is_done_already(client, factories, company, connection,
                                                                       as_admin, broker):
    live = [factories.ticket(company, connection=connection, status="open") for _ in range(2)]
    closed = factories.ticket(company, connection=connection, status="closed")

    answer = bulk(client, as_admin, "close", [*live, closed])

    assert answer.get_json() == {"done": [live[0].id, live[1].id, closed.id], "failed": []}
    assert statuses(*live) == ["closed", "closed"]
    assert [(m.ticket_id, m.body, m.status) for m in Message.select().order_by(Message.ticket)] == [
        (ticket.id, "Obrigado pelo contato!", "queued") for ticket in live]
    assert kinds(live[0]) == ["closed"] and kinds(closed) == []


def test_close_without_farewells(client, factories, company, connection, as_admin):
    tickets = [factories.ticket(company, connection=connection, status="open") for _ in range(2)]

    answer = bulk(client, as_admin, "close", tickets, sendFarewell=False)

    assert answer.get_json()["done"] == [t.id for t in tickets] and not Message.select().exists()


def test_transfer_moves_each_with_its_note_until_the_agent_s_limit(client, factories, company, connection, as_admin):
    queue = factories.queue(company)
    agent = factories.user(company, role="agent", max_open_tickets=2)
    tickets = [factories.ticket(company, connection=connection) for _ in range(3)]

    answer = bulk(client, as_admin, "transfer", tickets, queueId=queue.id, userId=agent.id, note="campaign replies")

    assert answer.get_json()["done"] == [tickets[0].id, tickets[1].id]
    assert [(f["ticketId"], f["error"], f["statusCode"]) for f in answer.get_json()["failed"]] == [
        (tickets[2].id, "conflict", 409)]
    moved = [Ticket.get_by_id(t.id) for t in tickets]
    assert [(t.queue_id, t.user_id, t.status) for t in moved] == [(queue.id, agent.id, "open")] * 2 + [
        (None, None, "pending")]
    assert [note.ticket_id for note in TicketNote.select().order_by(TicketNote.id)] == [tickets[0].id, tickets[1].id]


def test_one_bad_ticket_neither_stops_nor_undoes_the_others(client, factories, company, connection, as_admin):
    closed = factories.ticket(company, connection=connection, status="closed")
    pending = [factories.ticket(company, connection=connection) for _ in range(2)]
    foreign = factories.ticket(factories.company())

    answer = bulk(client, as_admin, "accept", [pending[0], closed, 10**15, foreign, pending[1]])

    assert answer.status_code == 200
    assert answer.get_json()["done"] == [pending[0].id, pending[1].id]
    assert answer.get_json()["failed"] == [
        {"ticketId": closed.id, "error": "conflict", "message": "the ticket is closed; reopen it instead",
         "statusCode": 409},
        {"ticketId": 10**15, "error": "not_found", "message": "ticket not found", "statusCode": 404},
        {"ticketId": foreign.id, "error": "not_found", "message": "ticket not found", "statusCode": 404},
    ]
    assert statuses(*pending, closed, foreign) == ["open", "open", "closed", "pending"]


def test_reopen_gives_back_each_closed_ticket_and_refuses_a_live_one(client, factories, company, connection, admin,
                                                                     as_admin):
    contact = factories.contact(company)
    old = factories.ticket(company, connection=connection, contact=contact, status="closed")
    factories.ticket(company, connection=connection, contact=contact)  # the contact's live ticket
    free = factories.ticket(company, connection=connection, status="closed")
    live = factories.ticket(company, connection=connection, status="open")

    answer = bulk(client, as_admin, "reopen", [old, free, live]).get_json()

    assert answer["done"] == [free.id]
    assert [(f["ticketId"], f["statusCode"]) for f in answer["failed"]] == [(old.id, 409), (live.id, 409)]
    assert "another live ticket" in answer["failed"][0]["message"]
    assert statuses(old, free) == ["closed", "open"] and Ticket.get_by_id(free.id).user_id == admin.id


def test_read_snooze_unsnooze_priority_and_tags(client, factories, company, connection, as_admin):
    tickets = [factories.ticket(company, connection=connection, status="open", unread_messages=2) for _ in range(2)]
    vip, late = factories.tag(company), factories.tag(company)
    until = iso_utc(utcnow() + dt.timedelta(hours=3))

    answers = [bulk(client, as_admin, "read", tickets),
               bulk(client, as_admin, "snooze", tickets, until=until),
               bulk(client, as_admin, "priority", tickets, priority="urgent"),
               bulk(client, as_admin, "tags", tickets, tagIds=[vip.id, late.id])]
    snoozed = [Ticket.get_by_id(t.id) for t in tickets]
    woken = bulk(client, as_admin, "unsnooze", tickets)

    assert [a.get_json() for a in answers] == [{"done": [t.id for t in tickets], "failed": []}] * 4
    assert [(t.unread_messages, iso_utc(t.snoozed_until), t.priority) for t in snoozed] == [(0, until, 4)] * 2
    assert woken.get_json()["done"] == [t.id for t in tickets]
    assert all(Ticket.get_by_id(t.id).snoozed_at is None for t in tickets)
    assert {(link.ticket_id, link.tag_id) for link in TicketTag.select()} == {
        (t.id, tag.id) for t in tickets for tag in (vip, late)}
    assert kinds(tickets[0]) == ["snoozed", "prioritised", "tagged", "woke"]


def test_custom_fields_set_on_many_tickets_and_a_bad_value_changes_none(client, factories, company, connection,
                                                                        as_admin):
    TicketField.create(company=company, key="campaign", label="Campaign")
    tickets = [factories.ticket(company, connection=connection, status="open") for _ in range(2)]

    done = bulk(client, as_admin, "custom_fields", tickets, customFields={"campaign": "Black Friday"})
    bad = bulk(client, as_admin, "custom_fields", tickets, customFields={"shoe": 42})
    missing = bulk(client, as_admin, "custom_fields", tickets)

    assert done.get_json() == {"done": [t.id for t in tickets], "failed": []}
    assert [Ticket.get_by_id(t.id).custom_fields for t in tickets] == [{"campaign": "Black Friday"}] * 2
    assert (bad.status_code, list(bad.get_json()["details"])) == (400, ["customFields.shoe"])
    assert (missing.status_code, list(missing.get_json()["details"])) == (400, ["customFields"])


def test_a_snooze_of_a_ticket_not_open_fails_that_ticket_only(client, factories, company, connection, as_admin):
    open_, pending = factories.ticket(company, connection=connection, status="open"), factories.ticket(company)

    answer = bulk(client, as_admin, "snooze", [open_, pending]).get_json()

    assert answer["done"] == [open_.id] and [f["ticketId"] for f in answer["failed"]] == [pending.id]
    assert Ticket.get_by_id(pending.id).snoozed_at is None and kinds(pending) == []


def test_an_agent_acts_only_on_the_tickets_they_may_see(app, client, factories, company, connection):
    sales, support = factories.queue(company), factories.queue(company)
    agent = factories.user(company, role="agent")
    UserQueue.create(user=agent, queue=sales)
    in_sales = factories.ticket(company, connection=connection, queue=sales)
    in_support = factories.ticket(company, connection=connection, queue=support)
    another_agents = factories.ticket(company, connection=connection, status="open",
                                      user=factories.user(company, role="agent"))

    answer = bulk(client, factories.auth_headers(app, agent), "accept", [in_sales, in_support, another_agents])

    assert answer.get_json()["done"] == [in_sales.id]
    assert [(f["ticketId"], f["error"]) for f in answer.get_json()["failed"]] == [
        (in_support.id, "not_found"), (another_agents.id, "not_found")]
    assert statuses(in_sales, in_support) == ["open", "pending"]
    assert Ticket.get_by_id(another_agents.id).user_id != agent.id


def test_a_program_acts_with_tickets_write_and_names_the_agent_to_accept(client, factories, company, connection):
    agent = factories.user(company, role="agent")
    tickets = [factories.ticket(company, connection=connection) for _ in range(2)]
    writer = {"X-API-Key": factories.api_key(company, ["tickets:write"])}
    reader = {"X-API-Key": factories.api_key(company, ["tickets:read"])}

    refused = bulk(client, reader, "accept", tickets, userId=agent.id)
    nobody = bulk(client, writer, "accept", tickets)
    accepted = bulk(client, writer, "accept", tickets, userId=agent.id)
    closed = bulk(client, writer, "close", tickets, sendFarewell=False)

    assert refused.status_code == 403
    assert (nobody.status_code, nobody.get_json()["details"]) == (400, {"userId": "required"})
    assert accepted.get_json()["done"] == closed.get_json()["done"] == [t.id for t in tickets]
    closes = TicketEvent.select().where(TicketEvent.kind == "closed")
    assert [(e.user_id, e.ticket_id) for e in closes.order_by(TicketEvent.id)] == [(None, t.id) for t in tickets]
    assert all(Ticket.get_by_id(t.id).user_id == agent.id for t in tickets)


def test_what_the_body_names_is_checked_once_before_any_ticket(client, factories, company, connection, as_admin):
    tickets = [factories.ticket(company, connection=connection) for _ in range(2)]
    foreign_queue, foreign_tag = factories.queue(factories.company()), factories.tag(factories.company())

    to_foreign_queue = bulk(client, as_admin, "transfer", tickets, queueId=foreign_queue.id)
    with_foreign_tag = bulk(client, as_admin, "tags", tickets, tagIds=[foreign_tag.id])

    assert (to_foreign_queue.status_code, to_foreign_queue.get_json()["message"]) == (404, "queue not found")
    assert (with_foreign_tag.status_code, with_foreign_tag.get_json()["message"]) == (404, "tag not found")
    assert not TicketEvent.select().exists() and not TicketTag.select().exists()


def test_an_id_given_twice_counts_once(client, factories, company, connection, as_admin):
    ticket = factories.ticket(company, connection=connection)

    answer = bulk(client, as_admin, "transfer", [ticket, ticket], queueId=factories.queue(company).id)

    assert answer.get_json() == {"done": [ticket.id], "failed": []} and kinds(ticket) == ["transferred"]


@pytest.mark.parametrize("body, field", [
    ({"ticketIds": [1], "action": "explode"}, "action"),
    ({"ticketIds": [1]}, "action"),
    ({"ticketIds": [], "action": "close"}, "ticketIds"),
    ({"ticketIds": list(range(1, 102)), "action": "close"}, "ticketIds"),
    ({"action": "close"}, "ticketIds"),
    ({"ticketIds": ["1"], "action": "close"}, "ticketIds.0"),
    ({"ticketIds": [2**63], "action": "close"}, "ticketIds"),
    ({"ticketIds": [1], "action": "priority"}, "priority"),
    ({"ticketIds": [1], "action": "priority", "priority": "asap"}, "priority"),
    ({"ticketIds": [1], "action": "tags"}, "tagIds"),
    ({"ticketIds": [1], "action": "transfer", "queueId": "1"}, "queueId"),
    ({"ticketIds": [1], "action": "transfer"}, "body"),  # say where to: as the single transfer words it
    ({"ticketIds": [1], "action": "close", "priority": "high"}, "priority"),  # not a field of close
    ({"ticketIds": [1], "action": "close", "sendFarewell": None}, "sendFarewell"),
    ({"ticketIds": [1], "action": "read", "until": None}, "until"),
    ({"ticketIds": [1], "action": "snooze", "until": "2020-01-01T00:00:00Z"}, "until"),
    ({"ticketIds": [1], "action": "close", "color": "red"}, "color"),
])
def test_a_body_that_does_not_fit_its_action_is_a_400_naming_the_field(client, factories, company, connection,
                                                                       as_admin, body, field):
    ticket = factories.ticket(company, connection=connection, status="open")

    answer = client.post("/api/tickets/bulk", json=body, headers=as_admin)

    assert (answer.status_code, answer.get_json()["error"]) == (400, "validation_error"), answer.get_json()
    assert field in answer.get_json()["details"], answer.get_json()
    assert statuses(ticket) == ["open"] and kinds(ticket) == []


def test_the_bulk_route_and_the_ticket_routes_do_not_shadow_each_other(app, client, factories, company, connection,
                                                                       as_admin):
    ticket = factories.ticket(company, connection=connection)
    urls = app.url_map.bind("localhost")

    assert urls.match("/api/tickets/bulk", method="POST")[0] == "ticket_bulk.act_on_tickets"
    assert urls.match(f"/api/tickets/{ticket.id}/close", method="POST")[0] == "tickets.close_ticket"
    assert client.get("/api/tickets/bulk", headers=as_admin).status_code == 405
    assert client.get(f"/api/tickets/{ticket.id}", headers=as_admin).status_code == 200


def test_every_action_s_fields_are_fields_of_the_bulk_body():
    bulk_fields = set(TicketBulkIn.model_fields)

    for action, (schema, _) in ACTIONS.items():
        assert set(schema.model_fields) <= bulk_fields, action


def test_a_failure_nobody_foresaw_on_one_ticket_is_its_500_and_the_others_are_done(client, factories, company,
                                                                                   connection, as_admin, monkeypatch):
    tickets = [factories.ticket(company, connection=connection) for _ in range(3)]
    accept = Ticket.accept

    def accept_but_the_second(ticket, user_id):
        if ticket.id == tickets[1].id:
            raise RuntimeError("the disk is full")
        return accept(ticket, user_id)

    monkeypatch.setattr(Ticket, "accept", accept_but_the_second)
    answer = bulk(client, as_admin, "accept", tickets)

    assert answer.status_code == 200
    assert answer.get_json() == {"done": [tickets[0].id, tickets[2].id], "failed": [
        {"ticketId": tickets[1].id, "error": "internal_error", "statusCode": 500,
         "message": "something went wrong on our side; it has been logged"}]}
    assert statuses(*tickets) == ["open", "pending", "open"]
    assert kinds(tickets[1]) == []
