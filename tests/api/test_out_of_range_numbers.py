"""Numbers past the database's BIGINT range: a path id names no row (404), a body or query value is a 400 naming
the field, and none of them reaches the database, Redis, or leaves anything half-written. So are NaN and the
infinities (1e400 reads as one), a count past its INTEGER column or its bound, and a time UTC cannot hold."""

from __future__ import annotations

import json

import pytest
from werkzeug.exceptions import NotFound

from db.campaigns import Campaign
from db.companies import Plan, Setting
from db.connections import Connection
from db.flows import Flow, FlowSession
from db.jobs import Job
from db.messages import Message
from db.queues import Queue
from db.schedules import Schedule
from db.tickets import Ticket
from db.users import User

HUGE = 99999999999999999999
PAST_BIGINT = 2**63
TOO_MANY_DIGITS = "9" * 5000  # longer than Python parses into an int by default
HUGE_BUT_A_BIGINT = 10**15  # past every bounded field, not past the BIGINT guard
NOT_FINITE = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"]  # JSON that Python reads as NaN or an infinity


@pytest.fixture
def ticket(factories, company, connection):
    return factories.ticket(company, connection=connection, status="open")


def assert_invalid(answer, field: str) -> str:
    """The answer is a 400 naming `field` (a dotted path) or a part of it; what it says there."""
    body = answer.get_json()
    assert (answer.status_code, body["error"], body["statusCode"]) == (400, "validation_error", 400), body
    problems = [problem for key, problem in body["details"].items() if f"{key}.".startswith(f"{field}.")]
    assert problems, body
    return " ".join(problems)


def rows(model) -> list[dict]:
    return list(model.select().order_by(model.id).dicts())


def json_text(body: dict, **literals: object) -> str:
    """`body` as JSON text, each string named in `literals` written as its value (1e400, NaN and Infinity are
    JSON that no dict dumps; an id is known only once its row is made)."""
    text = json.dumps(body)
    for name, literal in literals.items():
        text = text.replace(f'"{name}"', str(literal))
    return text


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


@pytest.fixture
def super_headers(factories, app):
    return factories.auth_headers(app, factories.user(role="super"))


@pytest.fixture
def flow(client, headers):
    """A published flow's id."""
    made = client.post("/api/flows", headers=headers,
                       json={"name": "Hello", "nodes": [{"id": "start", "type": "message", "text": "Hi"}]})
    client.post(f"/api/flows/{made.get_json()['id']}/publish", headers=headers)
    return made.get_json()["id"]


@pytest.fixture
def ids(factories, company, connection, flow):
    """The ids a path or a body names."""
    return {"user": factories.user(company, role="agent").id, "queue": factories.queue(company).id,
            "campaign": factories.campaign(company, connection=connection).id, "connection": connection.id,
            "flow": flow}


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/api/plans", {"name": "Gold", "maxUsers": HUGE_BUT_A_BIGINT}, "maxUsers"),
    ("POST", "/api/plans", {"name": "Gold", "maxConnections": HUGE_BUT_A_BIGINT}, "maxConnections"),
    ("POST", "/api/plans", {"name": "Gold", "maxCampaigns": HUGE_BUT_A_BIGINT}, "maxCampaigns"),
    ("POST", "/api/plans", {"name": "Gold", "priceCents": 2**31}, "priceCents"),
    ("PATCH", "/api/plans/{plan}", {"maxUsers": 2**31}, "maxUsers"),
])
def test_a_plan_number_past_its_integer_column_is_a_400_and_writes_nothing(client, super_headers, factories,
                                                                            method, path, body, field):
    plan = factories.plan()
    before = rows(Plan)

    answer = client.open(path.format(plan=plan.id), method=method, json=body, headers=super_headers)

    assert_invalid(answer, field)
    assert rows(Plan) == before


@pytest.mark.parametrize("method, path, body, field, model", [
    ("POST", "/api/users", {"name": "Ana", "email": "ana@example.com", "password": "long enough",
                            "maxOpenTickets": HUGE_BUT_A_BIGINT}, "maxOpenTickets", User),
    ("PATCH", "/api/users/{user}", {"maxOpenTickets": 2**31}, "maxOpenTickets", User),
    ("POST", "/api/queues", {"name": "Sales", "priority": HUGE_BUT_A_BIGINT}, "priority", Queue),
    ("PATCH", "/api/queues/{queue}", {"priority": 2**31}, "priority", Queue),
    ("POST", "/api/campaigns", {"name": "Promo", "connectionId": "CONNECTION", "messages": ["Hi"],
                                "throttle": {"pauseEvery": HUGE_BUT_A_BIGINT}}, "throttle.pauseEvery", Campaign),
    ("PATCH", "/api/campaigns/{campaign}", {"throttle": {"pauseEvery": 1_000_001}}, "throttle.pauseEvery", Campaign),
    ("PATCH", "/api/settings", {"campaignThrottle": {"pauseEvery": HUGE_BUT_A_BIGINT}},
     "campaignThrottle.pauseEvery", Setting),
])
def test_a_count_past_its_bound_is_a_400_and_writes_nothing(client, headers, ids, method, path, body, field, model):
    before = rows(model)

    answer = client.open(path.format(**ids), method=method, headers=headers,
                         data=json_text(body, CONNECTION=ids["connection"]), content_type="application/json")

    assert_invalid(answer, field)
    assert rows(model) == before


@pytest.mark.parametrize("literal", NOT_FINITE)
@pytest.mark.parametrize("method, path, body, field, model", [
    ("POST", "/api/campaigns", {"name": "Promo", "connectionId": "CONNECTION", "messages": ["Hi"],
                                "throttle": {"jitterSeconds": "NUMBER"}}, "throttle.jitterSeconds", Campaign),
    ("PATCH", "/api/campaigns/{campaign}", {"throttle": {"pauseSeconds": "NUMBER"}}, "throttle.pauseSeconds",
     Campaign),
    ("PATCH", "/api/connections/{connection}", {"sendLimits": {"perMinute": "NUMBER"}}, "sendLimits.perMinute",
     Connection),
    ("POST", "/api/flows", {"name": "Bot", "nodes": [{"id": "start", "type": "message", "text": "Hi",
                                                      "weight": "NUMBER"}]}, "nodes", Flow),
    ("PATCH", "/api/flows/{flow}", {"trigger": {"type": "api", "weight": "NUMBER"}}, "trigger", Flow),
    ("POST", "/api/flows/{flow}/start", {"to": "+5511987654321", "variables": {"score": "NUMBER"}},
     "variables.score", FlowSession),
    ("POST", "/api/flows/{flow}/dry-run", {"variables": {"score": "NUMBER"}}, "variables.score", FlowSession),
    ("POST", "/api/flows/{flow}/dry-run", {"outcomes": {"call": {"status": "NUMBER"}}}, "outcomes", FlowSession),
])
def test_a_number_that_is_not_finite_is_a_400_and_writes_nothing(client, headers, ids, literal, method, path, body,
                                                                 field, model):
    before = rows(model), rows(Job)

    answer = client.open(path.format(**ids), method=method, headers=headers,
                         data=json_text(body, NUMBER=literal, CONNECTION=ids["connection"]),
                         content_type="application/json")

    assert "finite" in assert_invalid(answer, field)
    assert (rows(model), rows(Job)) == before


@pytest.mark.parametrize("literal", NOT_FINITE)
def test_a_template_variable_that_is_not_finite_is_a_400(client, headers, literal):
    quick = client.post("/api/quick-messages", headers=headers, json={"shortcut": "score", "body": "{{score}}"})

    answer = client.post(f"/api/quick-messages/{quick.get_json()['id']}/render", headers=headers,
                         data=json_text({"variables": {"score": "NUMBER"}}, NUMBER=literal),
                         content_type="application/json")

    assert "finite" in assert_invalid(answer, "variables")


@pytest.mark.parametrize("send_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_that_utc_cannot_hold_is_a_400_and_writes_nothing(client, headers, connection, send_at):
    answer = client.post("/api/schedules", headers=headers,
                         json={"connectionId": connection.id, "to": "+5511987654321", "body": "Hi", "sendAt": send_at})

    assert_invalid(answer, "sendAt")
    assert Schedule.select().count() == 0
