"""Webhooks of some numbers (`connection_ids`, Evolution API's webhook per instance): each receives only the events
of its numbers, delivered to a real HTTP server on loopback; a webhook without them receives everything."""

from __future__ import annotations

import json

import pytest

from db.webhooks import Webhook, WebhookDelivery
from tests.waiting import wait_for
from workers.acks import record_receipt
from workers.ban_signals import pause_campaigns_on_number
from workers.campaigns import cancel_queued_shippings
from workers.connection_events import record_connection_event
from workers.messages import queue_outbound
from workers.webhooks import Subscription, SubscriptionCache, fan_out

SALES, SUPPORT = 1, 2


@pytest.fixture
def company(factories):
    return factories.company()


@pytest.fixture
def numbers(factories, company):
    """The company's sales and support numbers."""
    return factories.connection(company, name="Sales"), factories.connection(company, name="Support")


@pytest.fixture
def hooks(factories, company, numbers, receiver):
    """A webhook per number (the CRM's, the help desk's) and one of every number, each told apart by its URL."""
    sales, support = numbers
    for name, connection_ids in (("sales", [sales.id]), ("support", [support.id]), ("every", None)):
        factories.webhook(company, url=f"{receiver.url}?for={name}", events=["*"], connection_ids=connection_ids)


def received_by(receiver, broker, worker) -> dict[str, list[tuple]]:
    """{webhook: sorted (event, data's id or connectionId)} of what reached the receiver."""
    broker.join("webhooks", timeout=20_000)
    worker.join()
    by_hook: dict[str, list[tuple]] = {}
    for request in receiver.received:
        body = json.loads(request.body)
        about = body["data"].get("id", body["data"].get("connectionId"))
        by_hook.setdefault(request.path.partition("?for=")[2], []).append((body["event"], about))
    return {hook: sorted(events) for hook, events in by_hook.items()}


@pytest.mark.parametrize("mine, event_numbers, wants", [
    (None, (), True),  # a contact's event: only the webhooks of every number
    (None, (SALES,), True),
    ((SALES,), (SALES,), True),
    ((SALES,), (SUPPORT,), False),
    ((SALES,), (), False),
    ((SUPPORT,), (SALES, SUPPORT), True),  # a campaign rotating over both numbers
    ((SALES, SUPPORT), (SUPPORT,), True),
])
def test_a_webhook_wants_the_events_of_its_numbers(mine, event_numbers, wants):
    subscription = Subscription(1, frozenset({"*"}), frozenset(mine) if mine else None)

    assert subscription.wants("ticket:update", event_numbers) is wants
    assert subscription.wants("flow:session_started", event_numbers) is wants
    assert not Subscription(1, frozenset({"message:*"}), None).wants("ticket:update", event_numbers)


def test_message_ticket_and_whatsapp_events_reach_the_webhook_of_their_number(app, client, factories, company,
                                                                              numbers, hooks, receiver, broker,
                                                                              worker):
    sales, support = numbers
    agent = factories.user(company, role="agent")
    on_sales, on_support = (factories.ticket(company, connection=number) for number in numbers)
    read = factories.message(on_support, direction="out", status="sent", wa_id="3EB0READ")

    written, _ = queue_outbound(on_sales, "Olá")  # message:new
    record_receipt({"connection_id": support.id, "wa_ids": ["3EB0READ"], "status": "read"}).send()  # message:update
    client.post(f"/api/tickets/{on_support.id}/accept", headers=factories.auth_headers(app, agent))  # ticket:update
    record_connection_event({"kind": "connected", "connection_id": sales.id, "phone": "+5511999990001"})
    record_connection_event({"kind": "qr", "connection_id": support.id, "code": "2@abc"})
    contact = client.post("/api/contacts", headers=factories.auth_headers(app, factories.user(company)),
                          json={"name": "Ana", "phone": "+5511988887777"}).get_json()  # of no number

    assert received_by(receiver, broker, worker) == {
        "sales": [("message:new", written.id), ("whatsapp:ready", sales.id)],
        "support": [("message:update", read.id), ("ticket:update", on_support.id), ("whatsapp:qr", support.id)],
        "every": sorted([("message:new", written.id), ("whatsapp:ready", sales.id), ("message:update", read.id),
                         ("ticket:update", on_support.id), ("whatsapp:qr", support.id), ("contact:new", contact["id"])]),
    }


def test_a_campaign_s_events_reach_the_webhooks_of_each_number_it_sends_on(factories, company, numbers, hooks,
                                                                             receiver, broker, worker):
    sales, support = numbers
    rotation = factories.campaign(company, connection=sales, connection_ids=[sales.id, support.id], status="running")
    on_sales = factories.campaign(company, connection=sales, status="running")
    on_support = factories.campaign(company, connection=support, status="cancelled")

    pause_campaigns_on_number(sales.id, "banned", "temporary ban")  # both running campaigns send on sales
    cancel_queued_shippings(on_support.id)

    received = received_by(receiver, broker, worker)
    assert received["sales"] == sorted([("campaign:update", rotation.id), ("campaign:update", on_sales.id),
                                        ("connection:ban_signal", sales.id)])
    assert received["support"] == [("campaign:update", rotation.id), ("campaign:update", on_support.id)]
    assert received["every"] == sorted(received["sales"] + [("campaign:update", on_support.id)])


def test_a_webhook_of_one_number_still_receives_its_test_event(app, client, factories, company, numbers, receiver,
                                                               broker, worker):
    webhook = factories.webhook(company, url=receiver.url, events=["message:new"], connection_ids=[numbers[0].id])

    client.post(f"/api/webhooks/{webhook.id}/test", headers=factories.auth_headers(app, factories.user(company)))

    assert received_by(receiver, broker, worker) == {"": [("webhook:test", None)]}


def test_numbers_given_by_another_process_are_seen_within_the_cache_s_ttl(database, factories, company, numbers):
    sales, support = numbers
    cache = SubscriptionCache(ttl_seconds=0.3)
    webhook = Webhook.create(company=company, url="https://93.184.215.14/", events=["*"], secret="s" * 20,
                             connection_ids=[sales.id])
    assert cache.matching(company.id, "message:new", (sales.id,)) == [webhook.id]

    Webhook.update(connection_ids=[sales.id, support.id]).execute()  # another process: this cache is not told

    assert cache.matching(company.id, "message:new", (support.id,)) == []  # stale for at most the TTL
    assert wait_for(lambda: cache.matching(company.id, "message:new", (support.id,)) == [webhook.id], timeout=2)


def test_numbers_narrowed_by_another_process_take_effect_at_once(database, factories, company, numbers):
    sales, support = numbers
    webhook = factories.webhook(company, events=["*"])
    fan_out(company.id, "message:new", {"id": 1}, (support.id,))  # the cache holds the webhook of every number

    Webhook.update(connection_ids=[sales.id]).where(Webhook.id == webhook.id).execute()
    fan_out(company.id, "message:new", {"id": 2}, (support.id,))
    fan_out(company.id, "message:new", {"id": 3}, (sales.id,))

    assert [d.payload["data"]["id"] for d in WebhookDelivery.select().order_by(WebhookDelivery.id)] == [1, 3]
