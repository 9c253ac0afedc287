"""The README's example flow end to end through the simulator: menu → question → HTTP → transfer.

Real parts: the API, a Dramatiq worker, the gateway with the simulated network, a shop API on loopback.
"""

from __future__ import annotations

import pytest

from db.messages import Message
from db.tickets import Ticket
from tests.flows import order_api
from tests.waiting import wait_for
from workers.transports import simulator


def example_flow(shop_url: str, support_queue_id: int) -> dict:
    """The README's flow, as a user would POST it."""
    return {
        "name": "Orders",
        "trigger": {"type": "keyword", "value": "menu"},
        "nodes": [
            {
                "id": "menu",
                "type": "menu",
                "text": "Hi {{firstName}}! What do you need?",
                "options": {"1": "Where is my order?", "2": "Talk to someone"},
            },
            {
                "id": "order",
                "type": "question",
                "text": "Your order number?",
                "variable": "order",
                "validation": "number",
                "retryMessage": "Just the digits, please.",
            },
            {
                "id": "lookup",
                "type": "http",
                "method": "GET",
                "url": f"{shop_url}/orders/{{{{order}}}}",
                "timeoutSeconds": 5,
                "save": {"orderStatus": "data.status", "eta": "data.eta"},
            },
            {
                "id": "status",
                "type": "message",
                "text": "Order {{order}} is {{orderStatus}}, arriving {{eta}}.",
            },
            {"id": "notfound", "type": "message", "text": "I could not find order {{order}}."},
            {
                "id": "human",
                "type": "transfer",
                "queueId": support_queue_id,
                "text": "Passing you to our team, {{firstName}}.",
            },
        ],
        "edges": [
            {"from": "menu", "to": "order", "when": "1"},
            {"from": "menu", "to": "human", "when": "2"},
            {"from": "order", "to": "lookup"},
            {"from": "lookup", "to": "status", "when": "ok"},
            {"from": "lookup", "to": "notfound", "when": "error"},
            {"from": "status", "to": "human"},
            {"from": "notfound", "to": "human"},
        ],
    }


@pytest.fixture
def live(connection, redis_client, worker, gateway, loopback_allowed):
    simulator.configure(redis_client, connection.id, deliveredAfterMs=0, readAfterMs=-1)
    return connection


def run_conversation(
    client, headers, connection, redis_client, said: list[str], expected_outbox: int
) -> list[str]:
    for body in said:
        count = simulator.outbox(redis_client, connection.id)[1]
        answer = client.post(
            f"/api/simulator/{connection.id}/inbound",
            json={"from": "+5511987654321", "body": body, "name": "Ana Lima"},
            headers=headers,
        )
        assert answer.status_code == 202
        assert wait_for(lambda n=count: simulator.outbox(redis_client, connection.id)[1] > n, timeout=20), (
            body
        )
    assert wait_for(lambda: simulator.outbox(redis_client, connection.id)[1] == expected_outbox, timeout=20)
    entries = simulator.outbox(redis_client, connection.id, limit=100)[0]
    return [entry["body"] for entry in sorted(entries, key=lambda entry: entry["at"])]


@pytest.mark.parametrize(
    ("status", "tells"),
    [
        (200, "Order 1042 is shipped, arriving tomorrow."),
        (503, "I could not find order 1042."),
    ],
)
def test_the_readme_example_through_the_simulator(
    client, headers, company, factories, live, redis_client, status, tells
):
    support = factories.queue(company, name="Support")
    with order_api.serving({"1042": {"status": "shipped", "eta": "tomorrow"}}, status=status) as shop:
        flow_id = client.post(
            "/api/flows", json=example_flow(shop.url, support.id), headers=headers
        ).get_json()["id"]
        assert client.post(f"/api/flows/{flow_id}/publish", headers=headers).status_code == 201

        outbox = run_conversation(
            client, headers, live, redis_client, ["menu", "1", "order 1042?", "1042"], 5
        )

    said_by_the_bot = [
        "Hi Ana! What do you need?\n\n1 - Where is my order?\n2 - Talk to someone",
        "Your order number?",
        "Just the digits, please.",
        tells,
        "Passing you to our team, Ana.",
    ]
    # The bot wrote them in this order; the gateway sends two messages written in one go in parallel,
    # so the network may get the last two either way round.
    assert [
        m.body for m in Message.select().where(Message.direction == "out").order_by(Message.id)
    ] == said_by_the_bot
    assert sorted(outbox) == sorted(said_by_the_bot)
    assert shop.requests == ["/orders/1042"]
    ticket = Ticket.get()
    assert (ticket.queue_id, ticket.status) == (support.id, "pending")
    sessions = client.get("/api/flows/sessions", headers=headers).get_json()["items"]
    assert [(s["status"], s["endReason"]) for s in sessions] == [("ended", "transferred")]
    steps = client.get(f"/api/flows/sessions/{sessions[0]['id']}", headers=headers).get_json()["stepsLog"]
    assert [s["node"] for s in steps] == [
        "menu",
        "menu",
        "order",
        "order",
        "order",
        "lookup",
        "status" if status == 200 else "notfound",
        "human",
    ]
