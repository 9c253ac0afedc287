"""GET /api/messages?search=: messages found by their text, newest first, only in the conversations the caller
may see; on PostgreSQL and on SQLite (the embedded default)."""

from __future__ import annotations

import datetime as dt

import pytest

from db.base import utcnow
from db.queues import UserQueue

NOW = utcnow().replace(microsecond=0)


@pytest.fixture
def company(factories, database_kind):
    return factories.company()


@pytest.fixture
def as_admin(app, factories, company):
    return factories.auth_headers(app, factories.user(company, role="admin"))


@pytest.fixture
def connection(factories, company):
    return factories.connection(company)


@pytest.fixture
def ana(factories, company, connection):
    """Ana's ticket, in no queue and nobody's: pending, so every agent of the company may see it."""
    return factories.ticket(company, connection=connection,
                            contact=factories.contact(company, name="Ana Lima", phone="+5511912345678"))


def search(client, headers, text: str | None, **filters):
    return client.get("/api/messages", query_string={"search": text, **filters} if text is not None else filters,
                      headers=headers)


def found(client, headers, text: str, **filters) -> list[int]:
    answer = search(client, headers, text, **filters)
    assert answer.status_code == 200, answer.get_json()
    return [message["id"] for message in answer.get_json()["items"]]


def test_a_search_finds_messages_in_any_case_newest_first_with_their_conversation(client, factories, ana, as_admin):
    older = factories.message(ana, body="Meu PEDIDO 1042 não chegou", created_at=NOW - dt.timedelta(hours=2))
    newer = factories.message(ana, direction="out", body="O pedido 1042 sai hoje", created_at=NOW)
    factories.message(ana, body="obrigada!", created_at=NOW)

    answer = search(client, as_admin, "pedido 1042")

    assert answer.status_code == 200
    page = answer.get_json()
    assert [message["id"] for message in page["items"]] == [newer.id, older.id]
    assert (page["page"], page["pageSize"], page["total"]) == (1, 50, 2)
    first = page["items"][0]
    shown = client.get(f"/api/messages/{newer.id}", headers=as_admin).get_json()
    assert {**first, "ticket": None} == {**shown, "ticket": None}  # the message as shown, and its conversation
    assert (first["ticketId"], first["direction"], first["body"]) == (ana.id, "out", "O pedido 1042 sai hoje")
    assert first["ticket"] == {"id": ana.id, "status": "pending", "contact": {
        "id": ana.contact_id, "name": "Ana Lima", "phone": "+5511912345678", "isGroup": False, "profilePicUrl": None}}


def test_the_filters_narrow_a_search(client, factories, company, connection, ana, as_admin):
    bruno = factories.ticket(company, connection=factories.connection(company),
                             contact=factories.contact(company, name="Bruno"))
    hers_in = factories.message(ana, body="boleto vencido", created_at=NOW - dt.timedelta(days=2))
    ours = factories.message(ana, direction="out", body="segue o boleto", created_at=NOW - dt.timedelta(hours=1))
    his = factories.message(bruno, body="e o boleto?", created_at=NOW)

    def boletos(**filters) -> list[int]:
        return found(client, as_admin, "boleto", **filters)

    assert boletos() == [his.id, ours.id, hers_in.id]
    assert boletos(ticketId=ana.id) == boletos(contactId=ana.contact_id) == [ours.id, hers_in.id]
    assert boletos(connectionId=connection.id) == [ours.id, hers_in.id]
    assert boletos(fromMe="true") == [ours.id]
    assert boletos(fromMe="false") == [his.id, hers_in.id]
    assert boletos(after=(NOW - dt.timedelta(hours=1)).isoformat() + "Z") == [his.id, ours.id]
    assert boletos(before=(NOW - dt.timedelta(hours=1)).isoformat() + "Z") == [hers_in.id]
    assert boletos(after=(NOW - dt.timedelta(days=3)).isoformat() + "-03:00", pageSize=1, page=2) == [ours.id]


def test_wildcards_are_searched_for_literally(client, factories, ana, as_admin):
    discount = factories.message(ana, body="50% off_today \\o/")
    factories.message(ana, body="500 fat offers, today only")  # what the wildcards would find

    assert found(client, as_admin, "50%") == [discount.id]
    assert found(client, as_admin, "f_t") == [discount.id]
    assert found(client, as_admin, "%%%") == []
    assert found(client, as_admin, "\\o/") == [discount.id]


def test_a_message_is_not_found_by_the_text_it_had_before_it_was_deleted_or_edited(client, factories, ana,
                                                                                    as_admin):
    factories.message(ana, direction="out", body="the code is 9911", deleted_at=utcnow())
    edited = factories.message(ana, body="sorry, I meant 7733", edited_at=utcnow())  # only the latest text is kept

    assert found(client, as_admin, "9911") == []
    assert found(client, as_admin, "7733") == [edited.id]


@pytest.mark.parametrize("text", [None, "", "ab", "  ab  ", "x" * 201])
def test_a_search_needs_three_to_200_characters(client, as_admin, text):
    answer = search(client, as_admin, text)

    assert answer.status_code == 400
    body = answer.get_json()
    assert (body["error"], body["statusCode"]) == ("validation_error", 400) and "search" in body["details"]


def test_an_agent_finds_messages_only_in_the_tickets_they_may_see(app, client, factories, company, connection, ana,
                                                                 as_admin):
    sales = factories.queue(company)
    agent = factories.user(company, role="agent")
    UserQueue.create(user=agent, queue=sales)
    in_sales = factories.ticket(company, connection=connection, queue=sales)
    anothers = factories.ticket(company, connection=connection, queue=factories.queue(company), status="open",
                                user=factories.user(company, role="agent"))
    said = {ticket.id: factories.message(ticket, body="my card number is 4111").id
            for ticket in (ana, in_sales, anothers)}
    as_agent = factories.auth_headers(app, agent)

    assert sorted(found(client, as_agent, "card number")) == [said[ana.id], said[in_sales.id]]
    assert found(client, as_agent, "card number", ticketId=anothers.id) == []
    assert sorted(found(client, as_admin, "card number")) == sorted(said.values())


def test_another_company_s_messages_are_never_found(app, client, factories, ana, as_admin):
    elsewhere = factories.company()
    theirs = factories.ticket(elsewhere, connection=factories.connection(elsewhere))
    factories.message(theirs, body="segredo da outra empresa")
    key = factories.api_key(elsewhere, ["messages:read"])

    assert found(client, as_admin, "segredo") == []
    assert found(client, as_admin, "segredo", ticketId=theirs.id) == []
    assert len(found(client, {"X-API-Key": key}, "segredo")) == 1


def test_a_program_searches_with_messages_read(client, factories, company, ana):
    said = factories.message(ana, body="pedido 1042")
    reader = {"X-API-Key": factories.api_key(company, ["messages:read"])}
    sender = {"X-API-Key": factories.api_key(company, ["messages:send"])}

    assert found(client, reader, "1042") == [said.id]
    crm = {"X-API-Key": factories.api_key(company, ["messages:read", "contacts:read"])}
    assert search(client, reader, "1042").get_json()["items"][0]["ticket"]["contact"] is None  # no contacts scope
    assert search(client, crm, "1042").get_json()["items"][0]["ticket"]["contact"]["id"] == said.ticket.contact_id
    refused = search(client, sender, "1042")
    assert refused.status_code == 403 and refused.get_json()["details"] == {"required": ["messages:read"]}


def test_the_specification_lists_the_search_beside_the_send(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]

    assert {"get", "post"} <= set(paths["/api/messages"])
    parameters = {parameter["name"]: parameter for parameter in paths["/api/messages"]["get"]["parameters"]}
    assert parameters["search"]["required"] is True
    assert {"ticketId", "contactId", "connectionId", "fromMe", "after", "before", "page", "pageSize"} <= set(parameters)
