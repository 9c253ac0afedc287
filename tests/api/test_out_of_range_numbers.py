"""Numbers past the database's BIGINT range: a path id names no row (404), a body or query value is a 400 naming
the field, and none of them reaches the database, Redis, or leaves anything half-written."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound

from db.jobs import Job
from db.messages import Message
from db.tickets import Ticket

HUGE = 99999999999999999999
PAST_BIGINT = 2**63
TOO_MANY_DIGITS = "9" * 5000  # longer than Python parses into an int by default


@pytest.fixture
def ticket(factories, company, connection):
    return factories.ticket(company, connection=connection, status="open")


def assert_invalid(answer, field: str) -> None:
    body = answer.get_json()
    assert (answer.status_code, body["error"], body["statusCode"]) == (400, "validation_error", 400), body
    assert any(key.split(".")[0] == field for key in body["details"]), body


@pytest.mark.parametrize("number", [HUGE, PAST_BIGINT, TOO_MANY_DIGITS])
@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/tickets/{}", None),
    ("GET", "/api/messages/{}", None),
    ("PUT", "/api/tickets/{}/tags", {"tagIds": []}),
    ("POST", "/api/tickets/{}/transfer", {"queueId": 1}),
    ("GET", "/api/simulator/{}/outbox", None),
])
def test_a_path_id_past_bigint_is_a_404_that_matches_no_route(app, client, headers, method, path, body, number):
    url = path.format(number)

    answer = client.open(url, method=method, headers=headers, json=body)

    assert (answer.status_code, answer.get_json()["error"], answer.get_json()["statusCode"]) == (404, "not_found", 404)
    with pytest.raises(NotFound):  # the id never reaches a view, so never a query
        app.url_map.bind("localhost").match(url, method=method)


def test_the_largest_bigint_is_still_looked_up_and_not_found(client, headers):
    answer = client.get(f"/api/tickets/{2**63 - 1}", headers=headers)

    assert (answer.status_code, answer.get_json()["message"]) == (404, "ticket not found")


@pytest.mark.parametrize("path", ["/api/tickets", "/api/contacts"])
@pytest.mark.parametrize("page", [922337203685477580, HUGE])
def test_a_page_past_the_bound_is_a_400(client, headers, path, page):
    assert_invalid(client.get(f"{path}?page={page}", headers=headers), "page")


def test_a_page_past_the_data_is_still_an_empty_page(client, headers, ticket):
    answer = client.get("/api/tickets?page=1000", headers=headers)

    assert answer.status_code == 200, answer.get_json()
    assert (answer.get_json()["items"], answer.get_json()["total"]) == ([], 1)


@pytest.mark.parametrize("value", [HUGE, -HUGE, PAST_BIGINT])
@pytest.mark.parametrize("field", ["queueId", "userId", "tag"])
def test_a_query_filter_past_bigint_is_a_400(client, headers, field, value):
    assert_invalid(client.get(f"/api/tickets?{field}={value}", headers=headers), field)


@pytest.mark.parametrize("field, to_ticket", [
    ("ticketId", True),
    ("quotedMessageId", True),
    ("quotedMessageId", False),
    ("connectionId", False),
])
def test_a_send_with_an_id_past_bigint_is_a_400_and_writes_nothing(client, headers, ticket, field, to_ticket):
    recipient = {"ticketId": ticket.id} if to_ticket else {"to": "+5511987654321"}

    answer = client.post("/api/messages", json={**recipient, "body": "hi", field: HUGE},
                         headers={**headers, "Idempotency-Key": f"huge-{field}-{to_ticket}"})

    assert_invalid(answer, field)
    assert Message.select().count() == 0 and Job.select().count() == 0


@pytest.mark.parametrize("body, field", [
    ({"queueId": HUGE}, "queueId"),
    ({"userId": -HUGE}, "userId"),
])
def test_a_transfer_to_an_id_past_bigint_is_a_400_and_changes_nothing(client, headers, ticket, body, field):
    answer = client.post(f"/api/tickets/{ticket.id}/transfer", json=body, headers=headers)

    assert_invalid(answer, field)
    assert Ticket.get_by_id(ticket.id).status == "open"


def test_tags_with_an_id_past_bigint_are_a_400_and_change_nothing(client, headers, factories, company, ticket):
    tag = factories.tag(company)
    client.put(f"/api/tickets/{ticket.id}/tags", json={"tagIds": [tag.id]}, headers=headers)

    answer = client.put(f"/api/tickets/{ticket.id}/tags", json={"tagIds": [tag.id, HUGE]}, headers=headers)

    assert_invalid(answer, "tagIds")
    tags = client.get(f"/api/tickets/{ticket.id}", headers=headers).get_json()["tags"]
    assert [item["id"] for item in tags] == [tag.id]


@pytest.mark.parametrize("page", [HUGE, 922337203685477580])
def test_the_simulator_outbox_past_the_bound_is_a_400(client, headers, connection, page):
    assert_invalid(client.get(f"/api/simulator/{connection.id}/outbox?page={page}", headers=headers), "page")


def test_the_simulator_outbox_past_its_entries_is_an_empty_page(client, headers, connection):
    answer = client.get(f"/api/simulator/{connection.id}/outbox?page=1000", headers=headers)

    assert answer.status_code == 200, answer.get_json()
    assert (answer.get_json()["items"], answer.get_json()["page"]) == ([], 1000)
