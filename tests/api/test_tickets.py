"""Tickets through the API: who sees which, and what accept, transfer, close and reopen do."""

from __future__ import annotations

import csv
import io

import pytest

from db.base import utcnow
from db.contacts import Tag
from db.messages import Message
from db.queues import UserQueue
from db.tickets import Ticket, TicketField, TicketNote
from tests.workers.import_helpers import on_sqlite


@pytest.fixture
def connection(factories, company):
    return factories.connection(company, farewell_message="Obrigado pelo contato!")


def test_an_agent_sees_the_tickets_of_their_queues_their_own_and_unrouted_pending_ones(app, client, factories,
                                                                                       company, connection):
    sales, support = factories.queue(company), factories.queue(company)
    agent = factories.user(company, role="agent")
    UserQueue.create(user=agent, queue=sales)
    in_sales = factories.ticket(company, connection=connection, queue=sales)
    factories.ticket(company, connection=connection, queue=support)
    mine = factories.ticket(company, connection=connection, queue=support, user=agent, status="open")
    unrouted = factories.ticket(company, connection=connection)

    listed = client.get("/api/tickets", headers=factories.auth_headers(app, agent)).get_json()

    assert {t["id"] for t in listed["items"]} == {in_sales.id, mine.id, unrouted.id}
    assert listed["total"] == 3


def test_unrouted_pending_tickets_are_hidden_from_agents_when_the_company_says_so(app, client, factories, company,
                                                                                 connection, as_admin):
    agent = factories.auth_headers(app, factories.user(company, role="agent"))
    unrouted = factories.ticket(company, connection=connection)
    client.patch("/api/settings", headers=as_admin, json={"agentsSeeUnqueuedTickets": False})

    assert client.get("/api/tickets", headers=agent).get_json()["total"] == 0
    assert client.get(f"/api/tickets/{unrouted.id}", headers=agent).status_code == 404
    assert client.get("/api/tickets", headers=as_admin).get_json()["total"] == 1


def test_lists_filter_by_status_queue_and_search(client, factories, company, connection, as_admin):
    queue = factories.queue(company)
    maria = factories.contact(company, name="Maria Souza")
    wanted = factories.ticket(company, connection=connection, queue=queue, contact=maria)
    earlier = factories.ticket(company, connection=connection, contact=maria, status="closed")
    factories.ticket(company, connection=connection, status="closed")

    by_queue = client.get(f"/api/tickets?queueId={queue.id}", headers=as_admin).get_json()
    by_status = client.get("/api/tickets?status=pending", headers=as_admin).get_json()
    by_name = client.get("/api/tickets?search=souza", headers=as_admin).get_json()
    by_contact = client.get(f"/api/tickets?contactId={maria.id}", headers=as_admin).get_json()

    assert sorted(t["id"] for t in by_contact["items"]) == sorted([wanted.id, earlier.id])
    assert [t["id"] for t in by_queue["items"]] == [wanted.id]
    assert [t["id"] for t in by_status["items"]] == [wanted.id]
    assert [t["contact"]["name"] for t in by_name["items"]] == ["Maria Souza"] * 2


def found_tickets(client, headers, text: str, **filters) -> list[int]:
    answer = client.get("/api/tickets", query_string={"search": text, **filters}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return [ticket["id"] for ticket in answer.get_json()["items"]]


def test_a_search_takes_wildcards_literally(client, factories, company, connection, as_admin):
    maria = factories.ticket(company, connection=connection, contact=factories.contact(company, name="Maria Souza"))
    discount = factories.ticket(company, connection=connection)
    factories.message(discount, body="50% off_today \\o/")
    factories.message(factories.ticket(company, connection=connection), body="500 fat offers today")

    assert found_tickets(client, as_admin, "0% o") == found_tickets(client, as_admin, "f_t") == [discount.id]
    assert found_tickets(client, as_admin, "\\o/") == [discount.id]
    assert found_tickets(client, as_admin, "SOUZA") == [maria.id]


def test_a_search_shorter_than_three_characters_reads_names_and_phones_only(client, factories, company, connection,
                                                                            as_admin):
    bia = factories.ticket(company, connection=connection, contact=factories.contact(company, name="Bia"))
    factories.message(factories.ticket(company, connection=connection), body="a Bia disse oi")

    assert found_tickets(client, as_admin, "bi") == [bia.id]
    assert len(found_tickets(client, as_admin, "bia")) == 2


def test_a_search_finds_a_ticket_by_any_of_its_messages_in_any_case(client, factories, company, connection, as_admin):
    order = factories.ticket(company, connection=connection, status="open")
    factories.message(order, body="Meu pedido 1042 não chegou")
    factories.message(order, direction="out", body="Vamos verificar, um momento")  # its last message now
    cancel = factories.ticket(company, connection=connection)
    factories.message(cancel, body="Quero cancelar o pedido 1043")

    assert found_tickets(client, as_admin, "PEDIDO 1042") == [order.id]
    assert sorted(found_tickets(client, as_admin, "pedido 104")) == [order.id, cancel.id]
    assert found_tickets(client, as_admin, "pedido 1042", status="closed") == []


def test_a_search_does_not_find_a_message_by_the_text_it_had_before_it_was_deleted_or_edited(
        client, factories, company, connection, as_admin):
    ticket = factories.ticket(company, connection=connection)
    factories.message(ticket, direction="out", body="the code is 9911", deleted_at=utcnow())
    factories.message(ticket, body="sorry, I meant 7733", edited_at=utcnow())  # an edit keeps the latest text only

    assert found_tickets(client, as_admin, "9911") == []
    assert found_tickets(client, as_admin, "7733") == [ticket.id]


def test_a_search_by_what_was_said_runs_on_sqlite_too(app, client, factories, tmp_path):
    with on_sqlite(tmp_path):
        company = factories.company()
        as_admin = factories.auth_headers(app, factories.user(company))
        ticket = factories.ticket(company, connection=factories.connection(company))
        factories.message(ticket, body="50% OFF no pedido 1042")
        factories.message(ticket, body="o código é 9911", deleted_at=utcnow())

        assert found_tickets(client, as_admin, "off no") == found_tickets(client, as_admin, "50%") == [ticket.id]
        assert found_tickets(client, as_admin, "1_42") == found_tickets(client, as_admin, "9911") == []


def test_an_agent_s_search_finds_only_the_tickets_they_may_see(app, client, factories, company, connection, as_admin):
    as_agent = factories.auth_headers(app, factories.user(company, role="agent"))  # in no queue
    unrouted = factories.ticket(company, connection=connection)  # pending, no queue: any agent may take it
    anothers = factories.ticket(company, connection=connection, status="open", user=factories.user(company, role="agent"))
    elsewhere = factories.company()
    for ticket in (unrouted, anothers, factories.ticket(elsewhere, connection=factories.connection(elsewhere))):
        factories.message(ticket, body="my card number is 4111")

    assert found_tickets(client, as_agent, "card number") == [unrouted.id]
    assert sorted(found_tickets(client, as_admin, "card number")) == [unrouted.id, anothers.id]


def test_accept_opens_the_ticket_for_the_caller_within_their_limit(app, client, factories, company, connection):
    agent = factories.user(company, role="agent", max_open_tickets=1)
    first, second = (factories.ticket(company, connection=connection) for _ in range(2))
    headers = factories.auth_headers(app, agent)

    accepted = client.post(f"/api/tickets/{first.id}/accept", headers=headers)
    over_limit = client.post(f"/api/tickets/{second.id}/accept", headers=headers)

    assert accepted.status_code == 200
    assert (accepted.get_json()["status"], accepted.get_json()["userId"]) == ("open", agent.id)
    assert over_limit.status_code == 409
    assert Ticket.get_by_id(second.id).status == "pending"


def test_transfer_to_a_queue_with_a_note_goes_back_to_pending_there(client, factories, company, connection,
                                                                    admin, as_admin):
    ticket = factories.ticket(company, connection=connection, user=admin, status="open")
    support = factories.queue(company)

    moved = client.post(f"/api/tickets/{ticket.id}/transfer", json={"queueId": support.id, "note": "billing"},
                        headers=as_admin).get_json()

    assert (moved["status"], moved["queueId"], moved["userId"]) == ("pending", support.id, None)
    assert TicketNote.get(TicketNote.ticket == ticket.id).body == "billing"
    history = client.get(f"/api/tickets/{ticket.id}/history", headers=as_admin).get_json()
    assert history["events"][-1]["kind"] == "transferred"


def test_the_contact_is_told_who_took_their_ticket_and_where_it_went_when_the_company_says_so(
        app, client, factories, company, connection, as_admin, broker):
    agent = factories.user(company, role="agent", name="Bruno Costa")
    as_agent = factories.auth_headers(app, agent)
    ticket = factories.ticket(company, connection=connection, contact=factories.contact(company, name="Ana Lima"))
    billing = factories.queue(company, name="Financeiro")
    UserQueue.create(user=agent, queue=billing)
    client.post(f"/api/tickets/{ticket.id}/accept", headers=as_agent)
    assert not Message.select().exists()  # no words set: nothing said
    answer = client.patch("/api/settings", headers=as_admin, json={
        "acceptedMessage": "Olá {{firstName}}, sou {{agent}} e vou te atender.",
        "transferredMessage": "Seu atendimento foi para {{queue}}."})
    assert answer.status_code == 200, answer.get_json()

    client.post(f"/api/tickets/{ticket.id}/transfer", json={"queueId": billing.id}, headers=as_admin)
    client.post(f"/api/tickets/{ticket.id}/accept", headers=as_agent)
    client.post(f"/api/tickets/{ticket.id}/accept", headers=as_agent)  # theirs already: nothing more

    said = [(message.body, message.user_id, message.status) for message in Message.select().order_by(Message.id)]
    assert said == [("Seu atendimento foi para Financeiro.", None, "queued"),
                    ("Olá Ana, sou Bruno Costa e vou te atender.", None, "queued")]
    group = factories.ticket(company, connection=connection, is_group=True,
                             contact=factories.contact(company, phone="120363012345678901@g.us", is_group=True))
    client.post(f"/api/tickets/{group.id}/accept", headers=as_agent)
    assert not Message.select().where(Message.ticket == group.id).exists()  # not to a group


def test_tickets_are_found_by_their_contact_s_custom_field(client, factories, company, connection, as_admin):
    factories.contact_field(company, "plan")
    gold, silver, none = (factories.ticket(company, connection=connection, contact=factories.contact(
        company, custom_fields=fields)) for fields in ({"plan": "Ouro"}, {"plan": "Prata"}, {}))

    def ids(**query) -> list[int] | int:
        answer = client.get("/api/tickets", query_string={"sort": "createdAt", **query}, headers=as_admin)
        return [t["id"] for t in answer.get_json()["items"]] if answer.status_code == 200 else answer.status_code

    assert ids(contactField="plan", contactFieldValue="ouro") == [gold.id]
    assert ids(contactField="plan") == [gold.id, silver.id]
    assert ids(contactFieldValue="ouro") == ids(contactField="shoe") == 400
    assert none.id in ids()


def test_transfer_to_another_company_queue_is_a_404(client, factories, company, connection, as_admin):
    ticket = factories.ticket(company, connection=connection)
    foreign = factories.queue(factories.company())

    answer = client.post(f"/api/tickets/{ticket.id}/transfer", json={"queueId": foreign.id}, headers=as_admin)

    assert answer.status_code == 404
    assert Ticket.get_by_id(ticket.id).queue_id is None


def test_close_queues_the_farewell_and_records_the_resolution_time(client, factories, company, connection,
                                                                   as_admin, broker):
    ticket = factories.ticket(company, connection=connection, status="open")

    closed = client.post(f"/api/tickets/{ticket.id}/close", headers=as_admin).get_json()

    assert closed["status"] == "closed" and closed["closedAt"]
    farewell = Message.get(Message.ticket == ticket.id)
    assert (farewell.body, farewell.direction, farewell.status) == ("Obrigado pelo contato!", "out", "queued")
    history = client.get(f"/api/tickets/{ticket.id}/history", headers=as_admin).get_json()
    assert history["resolutionSeconds"] is not None and history["events"][-1]["kind"] == "closed"


def test_a_closed_ticket_is_not_transferred_and_a_transfer_must_say_where(client, factories, company, connection,
                                                                          as_admin):
    contact = factories.contact(company)
    closed = factories.ticket(company, connection=connection, contact=contact, status="closed")
    live = factories.ticket(company, connection=connection, contact=contact)
    queue = factories.queue(company)

    to_closed = client.post(f"/api/tickets/{closed.id}/transfer", json={"queueId": queue.id, "note": "x"},
                            headers=as_admin)
    nowhere = client.post(f"/api/tickets/{live.id}/transfer", json={"note": "x"}, headers=as_admin)

    assert to_closed.status_code == 409 and "reopen" in to_closed.get_json()["message"]
    assert nowhere.status_code == 400 and nowhere.get_json()["error"] == "validation_error"
    assert Ticket.get_by_id(closed.id).status == "closed" and not TicketNote.select().exists()


def test_the_farewell_fills_in_the_contact_and_the_agent(client, factories, company, admin, as_admin, broker):
    connection = factories.connection(company, farewell_message="Obrigado, {{firstName}}! {{agent}}")
    ticket = factories.ticket(company, connection=connection, status="open", user=admin,
                              contact=factories.contact(company, name="Maria Souza"))

    client.post(f"/api/tickets/{ticket.id}/close", headers=as_admin)

    assert Message.get(Message.ticket == ticket.id).body == f"Obrigado, Maria! {admin.name}"


def test_reopen_is_refused_while_the_contact_has_another_live_ticket(client, factories, company, connection,
                                                                     as_admin):
    contact = factories.contact(company)
    old = factories.ticket(company, connection=connection, contact=contact, status="closed")
    factories.ticket(company, connection=connection, contact=contact)

    answer = client.post(f"/api/tickets/{old.id}/reopen", headers=as_admin)

    assert answer.status_code == 409
    assert Ticket.get_by_id(old.id).status == "closed"


def test_read_notes_tags_and_messages(client, factories, company, connection, as_admin):
    ticket = factories.ticket(company, connection=connection, unread_messages=3)
    tag = Tag.create(company=company, name="VIP")
    Message.create(company=company, ticket=ticket, connection=connection, contact=ticket.contact_id,
                   direction="in", body="oi", status="delivered", wa_id="3EB0IN")

    read = client.post(f"/api/tickets/{ticket.id}/read", headers=as_admin).get_json()
    client.post(f"/api/tickets/{ticket.id}/notes", json={"body": "VIP"}, headers=as_admin)
    notes = client.get(f"/api/tickets/{ticket.id}/notes", headers=as_admin).get_json()
    messages = client.get(f"/api/tickets/{ticket.id}/messages", headers=as_admin).get_json()
    tagged = client.put(f"/api/tickets/{ticket.id}/tags", json={"tagIds": [tag.id]}, headers=as_admin).get_json()

    assert read["unreadMessages"] == 0
    assert [(m["status"], m["readAt"] is not None) for m in messages["items"]] == [("read", True)]
    assert [n["body"] for n in notes["items"]] == ["VIP"]
    assert [m["body"] for m in messages["items"]] == ["oi"]
    assert [t["name"] for t in tagged["tags"]] == ["VIP"]


def test_a_ticket_marked_unread_counts_one_unread_message_at_least_until_it_is_read(
        client, factories, company, connection, as_admin):
    read, waiting = (factories.ticket(company, connection=connection, unread_messages=unread) for unread in (0, 3))

    marked = client.post(f"/api/tickets/{read.id}/unread", headers=as_admin)
    kept = client.post(f"/api/tickets/{waiting.id}/unread", headers=as_admin).get_json()
    again = client.post("/api/tickets/bulk", json={"ticketIds": [read.id, waiting.id], "action": "unread"},
                        headers=as_admin).get_json()
    read_again = client.post(f"/api/tickets/{read.id}/read", headers=as_admin).get_json()

    assert (marked.status_code, marked.get_json()["unreadMessages"], kept["unreadMessages"]) == (200, 1, 3)
    assert again == {"done": [read.id, waiting.id], "failed": []}
    assert [Ticket.get_by_id(t.id).unread_messages for t in (read, waiting)] == [0, 3]  # the first read again
    assert read_again["unreadMessages"] == 0


def test_another_companys_ticket_is_a_404(client, factories, connection, as_admin):
    foreign = factories.ticket(factories.company())

    assert client.get(f"/api/tickets/{foreign.id}", headers=as_admin).status_code == 404
    assert client.post(f"/api/tickets/{foreign.id}/accept", headers=as_admin).status_code == 404


def test_the_export_is_the_list_s_tickets_as_csv_for_supervisors_only(app, client, factories, company, connection,
                                                                      as_admin):
    agent = factories.user(company, role="agent", name="Ana")
    queue = factories.queue(company, name="Vendas")
    TicketField.create(company=company, key="refund", label="Refund", type="boolean")
    rated = factories.ticket(company, connection=connection, queue=queue, user=agent, status="closed", rating=5,
                             contact=factories.contact(company, name="=HYPERLINK(1)", phone="+5511911112222"),
                             custom_fields={"refund": True})
    factories.ticket(company, connection=connection, status="pending")

    export = client.get("/api/tickets/export?status=closed", headers=as_admin)
    refused = client.get("/api/tickets/export", headers=factories.auth_headers(app, agent))

    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert export.mimetype == "text/csv" and refused.status_code == 403
    assert [(row["id"], row["contactName"], row["phone"], row["queue"], row["agent"], row["rating"], row["refund"])
            for row in rows] == [(str(rated.id), "'=HYPERLINK(1)", "+5511911112222", "Vendas", "Ana", "5", "true")]


def test_a_ticket_s_own_custom_fields_are_defined_set_checked_found_and_removed_with_their_definition(
        client, factories, company, connection, as_admin):
    for key, kind in (("order", "text"), ("amount", "number"), ("refund", "boolean")):
        created = client.post("/api/ticket-fields", json={"key": key, "label": key.title(), "type": kind},
                              headers=as_admin)
        assert created.status_code == 201, created.get_json()
    taken = client.post("/api/ticket-fields", json={"key": "status", "label": "Status"}, headers=as_admin)
    ticket, other = (factories.ticket(company, connection=connection) for _ in range(2))

    set_ = client.patch(f"/api/tickets/{ticket.id}", headers=as_admin,
                        json={"customFields": {"order": "PED-1042", "amount": 99.9, "refund": True}})
    changed = client.patch(f"/api/tickets/{ticket.id}", headers=as_admin,
                           json={"customFields": {"amount": None, "refund": False}})
    bad = client.patch(f"/api/tickets/{other.id}", headers=as_admin,
                       json={"customFields": {"amount": "99", "shoe": 42}})
    found = client.get("/api/tickets", query_string={"field": "order", "value": "ped-1042"}, headers=as_admin)
    of_contact = client.get("/api/tickets", query_string={"field": "plan"}, headers=as_admin)

    assert taken.status_code == 400 and list(taken.get_json()["details"]) == ["key"]
    assert set_.get_json()["customFields"] == {"order": "PED-1042", "amount": 99.9, "refund": True}
    assert changed.get_json()["customFields"] == {"order": "PED-1042", "refund": False}  # the others stay
    assert bad.status_code == 400 and set(bad.get_json()["details"]) == {"customFields.amount", "customFields.shoe"}
    assert Ticket.get_by_id(other.id).custom_fields is None  # nothing written
    history = client.get(f"/api/tickets/{ticket.id}/history", headers=as_admin).get_json()["events"]
    assert [event["data"] for event in history if event["kind"] == "fields_changed"] == [
        {"before": {"amount": None, "order": None, "refund": None}, "after": {"amount": 99.9, "order": "PED-1042",
                                                                             "refund": True}},
        {"before": {"amount": 99.9, "refund": True}, "after": {"amount": None, "refund": False}}]
    assert [t["id"] for t in found.get_json()["items"]] == [ticket.id]
    assert of_contact.status_code == 400  # a ticket field's key, not a contact's
    order = next(f for f in client.get("/api/ticket-fields", headers=as_admin).get_json()["items"] if f["key"] == "order")
    assert client.delete(f"/api/ticket-fields/{order['id']}", headers=as_admin).status_code == 204
    assert Ticket.get_by_id(ticket.id).custom_fields == {"refund": False}
