"""/api/webhooks: admins subscribe public URLs, read the delivery log, redeliver and test."""

from __future__ import annotations

import json

import pytest

from db.audit import AuditLog
from db.webhooks import Webhook, WebhookDelivery
from tests.webhook_receiver import allow_loopback, fast_retries, serving
from workers.events import announcing
from workers.webhooks import EVENTS, fan_out, subscriptions

PUBLIC_URL = "https://93.184.215.14/hooks/wharf"  # a public address given literally: no DNS needed


@pytest.fixture(autouse=True)
def fresh_subscriptions():
    subscriptions.invalidate()


def run_deliveries(broker, worker) -> None:
    broker.join("webhooks", timeout=20_000)
    worker.join()


def test_a_webhook_is_created_with_a_generated_secret_shown_once(client, headers, admin):
    response = client.post("/api/webhooks", headers=headers, json={
        "url": PUBLIC_URL, "events": ["message:new", "ticket:*", "message:new"], "description": "CRM sync"})

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["message:new", "ticket:*"] and created["enabled"] is True
    assert created["secretHint"] == "…" + created["secret"][-4:]
    shown = client.get(f"/api/webhooks/{created['id']}", headers=headers).get_json()
    assert "secret" not in shown and shown["secretHint"] == created["secretHint"]
    assert Webhook.get_by_id(created["id"]).company_id == admin.company_id
    audit = AuditLog.get(AuditLog.entity == "webhook")
    assert created["secret"] not in json.dumps(audit.after) and audit.after["secret"] == created["secretHint"]


def test_a_secret_given_is_kept_and_a_patch_rotates_it(client, headers):
    created = client.post("/api/webhooks", headers=headers, json={
        "url": PUBLIC_URL, "events": ["*"], "secret": "my-own-secret-of-24-chars"}).get_json()

    rotated = client.patch(f"/api/webhooks/{created['id']}", headers=headers,
                           json={"secret": "another-secret-of-24-chars"}).get_json()

    assert created["secret"] == "my-own-secret-of-24-chars"
    assert "secret" not in rotated and rotated["secretHint"] == "…hars"
    assert Webhook.get_by_id(created["id"]).secret == "another-secret-of-24-chars"
    audit = AuditLog.get(AuditLog.action == "updated")
    assert (audit.before, audit.after) == ({"secret": "…hars"}, {"secret": "…hars (rotated)"})


@pytest.mark.parametrize("url", [
    "http://10.0.0.5/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:6379/",
    "http://[::1]:8080/hook",
    "http://[::ffff:192.168.0.1]/hook",
    "http://localhost/hook",
    "http://no-such-host.invalid/hook",
    "ftp://93.184.215.14/hook",
    "http://user:password@93.184.215.14/hook",
    "not a url",
])
def test_a_url_that_cannot_receive_webhooks_is_a_400(client, headers, url):
    response = client.post("/api/webhooks", headers=headers, json={"url": url, "events": ["*"]})

    assert response.status_code == 400, response.get_json()
    assert "url" in response.get_json()["details"]
    assert Webhook.select().count() == 0


def test_an_allowed_private_network_may_receive_webhooks(client, headers, monkeypatch):
    allow_loopback(monkeypatch)

    allowed = client.post("/api/webhooks", headers=headers, json={"url": "http://127.0.0.1:9/hook", "events": ["*"]})
    other = client.post("/api/webhooks", headers=headers, json={"url": "http://10.0.0.5/hook", "events": ["*"]})

    assert (allowed.status_code, other.status_code) == (201, 400)


@pytest.mark.parametrize("payload, field", [
    ({"events": []}, "events"),
    ({"events": ["message new"]}, "events.0"),
    ({"events": ["Message:New"]}, "events.0"),
    ({"secret": "short"}, "secret"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_fields_are_a_400_naming_the_field(client, headers, payload, field):
    response = client.post("/api/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": ["*"], **payload})

    assert response.status_code == 400
    assert field in response.get_json()["details"]


@pytest.mark.parametrize("events, unknown", [
    (["message:new", "mesage:new"], {"events.1": "mesage:new"}),
    (["tickets:*"], {"events.0": "tickets:*"}),
    (["ticket:created", "*", "whatsapp:gone"], {"events.0": "ticket:created", "events.2": "whatsapp:gone"}),
])
def test_an_event_missing_from_the_catalogue_is_a_400_naming_it(client, headers, events, unknown):
    response = client.post("/api/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": events})

    assert response.status_code == 400
    error = response.get_json()
    assert error["error"] == "validation_error" and set(error["details"]) == set(unknown)
    for path, name in unknown.items():
        assert f'unknown event "{name}": GET /api/webhooks/events lists them' in error["details"][path]
    assert Webhook.select().count() == 0


def test_a_change_to_an_unknown_event_is_a_400_and_changes_nothing(client, factories, headers, admin):
    webhook = factories.webhook(admin.company, events=["ticket:new"])

    response = client.patch(f"/api/webhooks/{webhook.id}", headers=headers, json={"events": ["ticket:closed"]})

    assert response.status_code == 400
    assert 'unknown event "ticket:closed"' in response.get_json()["details"]["events.0"]
    assert Webhook.get_by_id(webhook.id).events == ["ticket:new"]


@pytest.mark.parametrize("events", [
    ["*"],
    ["ticket:*", "flow:*", "connection:*"],
    ["message:ack_overdue", "lead:delete", "campaign:update", "webhook:test"],
    sorted(EVENTS),
])
def test_catalogued_events_their_families_and_everything_are_accepted(client, headers, events):
    response = client.post("/api/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": events})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["events"] == events


def test_stored_events_since_unknown_are_kept_and_still_deliver_the_known_ones(client, factories, headers, admin):
    webhook = factories.webhook(admin.company, events=["tickets:*", "message:new"])

    shown = client.get(f"/api/webhooks/{webhook.id}", headers=headers)
    changed = client.patch(f"/api/webhooks/{webhook.id}", headers=headers, json={"description": "old"})
    fan_out(admin.company_id, "message:new", {"id": 1})
    fan_out(admin.company_id, "ticket:new", {"id": 2})

    assert shown.status_code == changed.status_code == 200
    assert changed.get_json()["events"] == ["tickets:*", "message:new"]
    assert [d.event for d in WebhookDelivery.select()] == ["message:new"]


def test_an_event_missing_from_the_catalogue_cannot_be_announced(factories, admin):
    factories.webhook(admin.company, events=["*"])

    with pytest.raises(ValueError, match="ticket:created"):
        fan_out(admin.company_id, "ticket:created", {"id": 1})
    with pytest.raises(ValueError, match="ticket:created"), announcing() as announcements:
        announcements.add("ticket:created", admin.company_id, {"id": 1})

    assert WebhookDelivery.select().count() == 0


def test_the_events_endpoint_lists_the_catalogue(client, headers):
    response = client.get("/api/webhooks/events", headers=headers)

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [item["name"] for item in items] == list(EVENTS)
    assert {"message:new", "ticket:*"} & {item["name"] for item in items} == {"message:new"}
    assert {item["name"]: item["description"] for item in items} == EVENTS
    assert all(item["description"] for item in items)


def test_the_events_endpoint_says_which_connection_each_event_belongs_to(client, headers):
    items = client.get("/api/webhooks/events", headers=headers).get_json()["items"]

    belongs = {item["name"]: item["connection"] for item in items}
    assert belongs["message:new"] == "the message's connection (its ticket's)"
    assert belongs["whatsapp:qr"] == belongs["connection:ban_signal"] == "the connection itself"
    assert "rotation" in belongs["campaign:update"] and "ticket" in belongs["flow:session_ended"]
    assert "whatever its connectionIds" in belongs["webhook:test"]
    assert [name for name, connection in belongs.items() if connection is None] == [
        "contact:new", "contact:update", "contact:delete", "lead:new", "lead:update", "lead:delete"]


def test_a_webhook_of_some_numbers_shows_them_and_a_null_makes_it_every_number_s_again(client, factories, headers,
                                                                                       admin):
    sales, support = factories.connection(admin.company), factories.connection(admin.company)
    created = client.post("/api/webhooks", headers=headers, json={
        "url": PUBLIC_URL, "events": ["*"], "connectionIds": [sales.id, support.id, sales.id]}).get_json()
    base = f"/api/webhooks/{created['id']}"

    renamed = client.patch(base, headers=headers, json={"description": "CRM"}).get_json()
    narrowed = client.patch(base, headers=headers, json={"connectionIds": [support.id]}).get_json()
    everything = client.patch(base, headers=headers, json={"connectionIds": None}).get_json()

    assert created["connectionIds"] == renamed["connectionIds"] == [sales.id, support.id]
    assert narrowed["connectionIds"] == [support.id]
    assert everything["connectionIds"] is None and Webhook.get_by_id(created["id"]).connection_ids is None
    assert client.get(base, headers=headers).get_json()["connectionIds"] is None
    assert client.post("/api/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": ["*"]}).get_json()[
        "connectionIds"] is None


def test_numbers_not_of_the_company_or_none_at_all_are_a_400_naming_connection_ids(client, factories, headers,
                                                                                   admin):
    mine = factories.connection(admin.company)
    foreign = factories.connection(factories.company())
    webhook = factories.webhook(admin.company, connection_ids=[mine.id])

    created = client.post("/api/webhooks", headers=headers, json={
        "url": PUBLIC_URL, "events": ["*"], "connectionIds": [mine.id, foreign.id]})
    empty = client.post("/api/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": ["*"], "connectionIds": []})
    changed = client.patch(f"/api/webhooks/{webhook.id}", headers=headers, json={"connectionIds": [foreign.id + 1000]})
    words = client.patch(f"/api/webhooks/{webhook.id}", headers=headers, json={"connectionIds": ["sales"]})

    assert created.status_code == empty.status_code == changed.status_code == words.status_code == 400
    assert created.get_json()["details"] == {"connectionIds": f"unknown ids: [{foreign.id}]"}
    assert "connectionIds" in empty.get_json()["details"] and "connectionIds" in changed.get_json()["details"]
    assert "connectionIds.0" in words.get_json()["details"]
    assert Webhook.select().count() == 1 and Webhook.get_by_id(webhook.id).connection_ids == [mine.id]


def test_a_key_with_webhooks_write_reads_the_events(client, factories):
    company = factories.company()
    writer = factories.api_key(company, ["webhooks:write"])
    reader = factories.api_key(company, ["tickets:read"])

    listed = client.get("/api/webhooks/events", headers={"X-API-Key": writer})
    refused = client.get("/api/webhooks/events", headers={"X-API-Key": reader})

    assert listed.status_code == 200 and len(listed.get_json()["items"]) == len(EVENTS)
    assert refused.status_code == 403


@pytest.mark.parametrize("role", ["supervisor", "agent"])
def test_only_admins_see_or_manage_webhooks(client, factories, app, role):
    user = factories.user(role=role)
    webhook = factories.webhook(user.company)
    headers = factories.auth_headers(app, user)

    assert client.get("/api/webhooks", headers=headers).status_code == 403
    assert client.get("/api/webhooks/events", headers=headers).status_code == 403
    assert client.post("/api/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": ["*"]}).status_code == 403
    assert client.post(f"/api/webhooks/{webhook.id}/test", headers=headers).status_code == 403


def test_another_company_s_webhook_and_deliveries_are_404(client, factories, headers, admin):
    foreign = factories.webhook(factories.company())
    foreign_delivery = WebhookDelivery.create(webhook=foreign, event="ticket:new", payload={})
    mine = factories.webhook(admin.company)
    base = f"/api/webhooks/{foreign.id}"

    assert client.get(base, headers=headers).status_code == 404
    assert client.patch(base, headers=headers, json={"enabled": False}).status_code == 404
    assert client.get(f"{base}/deliveries", headers=headers).status_code == 404
    assert client.post(f"{base}/test", headers=headers).status_code == 404
    assert client.post(f"{base}/deliveries/{foreign_delivery.id}/redeliver", headers=headers).status_code == 404
    assert client.get(f"/api/webhooks/{mine.id}/deliveries/{foreign_delivery.id}", headers=headers).status_code == 404
    assert client.post(f"/api/webhooks/{mine.id}/deliveries/{foreign_delivery.id}/redeliver",
                       headers=headers).status_code == 404
    assert client.delete(base, headers=headers).status_code == 404
    assert client.get("/api/webhooks", headers=headers).get_json()["total"] == 1
    assert Webhook.get_by_id(foreign.id).enabled and WebhookDelivery.select().count() == 1


def test_disabling_and_deleting_take_effect_on_the_next_event(client, headers, admin):
    created = client.post("/api/webhooks", headers=headers, json={"url": PUBLIC_URL, "events": ["*"]}).get_json()
    fan_out(admin.company_id, "ticket:new", {"id": 1})

    client.patch(f"/api/webhooks/{created['id']}", headers=headers, json={"enabled": False})
    fan_out(admin.company_id, "ticket:new", {"id": 2})
    client.patch(f"/api/webhooks/{created['id']}", headers=headers, json={"enabled": True, "events": ["message:new"]})
    fan_out(admin.company_id, "ticket:new", {"id": 3})
    fan_out(admin.company_id, "message:new", {"id": 4})

    assert [d.payload["data"]["id"] for d in WebhookDelivery.select().order_by(WebhookDelivery.id)] == [1, 4]
    assert client.delete(f"/api/webhooks/{created['id']}", headers=headers).status_code == 204
    fan_out(admin.company_id, "message:new", {"id": 5})
    assert WebhookDelivery.select().count() == 0  # the log went with the webhook, and nothing new came


def test_the_delivery_log_pages_newest_first_and_filters_by_status(client, factories, headers, admin):
    webhook = factories.webhook(admin.company)
    for n, status in enumerate(["delivered", "failed", "delivered", "pending", "delivered"]):
        WebhookDelivery.create(webhook=webhook, event="ticket:new", payload={"data": {"n": n}}, status=status)

    page = client.get(f"/api/webhooks/{webhook.id}/deliveries?pageSize=2", headers=headers).get_json()
    delivered = client.get(f"/api/webhooks/{webhook.id}/deliveries?status=delivered", headers=headers).get_json()
    bad = client.get(f"/api/webhooks/{webhook.id}/deliveries?status=lost", headers=headers)

    assert page["total"] == 5 and [d["payload"]["data"]["n"] for d in page["items"]] == [4, 3]
    assert [d["payload"]["data"]["n"] for d in delivered["items"]] == [4, 2, 0]
    assert {"status", "attempts", "lastStatusCode", "lastError", "responseExcerpt", "durationMs",
            "createdAt", "deliveredAt"} <= set(page["items"][0])
    assert bad.status_code == 400


def test_the_test_event_and_a_redelivery_reach_the_receiver(client, factories, headers, admin, broker, worker,
                                                            monkeypatch):
    allow_loopback(monkeypatch)
    fast_retries(monkeypatch)
    with serving() as receiver:
        created = client.post("/api/webhooks", headers=headers, json={
            "url": receiver.url, "events": ["ticket:new"], "enabled": False}).get_json()
        base = f"/api/webhooks/{created['id']}"

        tested = client.post(f"{base}/test", headers=headers)
        run_deliveries(broker, worker)
        redelivered = client.post(f"{base}/deliveries/{tested.get_json()['id']}/redeliver", headers=headers)
        run_deliveries(broker, worker)

        assert tested.status_code == redelivered.status_code == 202
        assert tested.get_json()["status"] == "pending"
        first, second = receiver.received
    assert first.headers["X-Wharf-Event"] == second.headers["X-Wharf-Event"] == "webhook:test"
    assert first.signature_is_valid(created["secret"]) and second.signature_is_valid(created["secret"])
    assert json.loads(first.body)["data"] == json.loads(second.body)["data"]
    assert json.loads(second.body)["deliveryId"] == redelivered.get_json()["id"] != tested.get_json()["id"]
    log = client.get(f"{base}/deliveries", headers=headers).get_json()["items"]
    assert [(d["status"], d["attempts"], d["redeliveryOfId"]) for d in log] == [
        ("delivered", 1, tested.get_json()["id"]), ("delivered", 1, None)]


def test_a_disabled_webhook_s_events_are_not_redelivered(client, factories, headers, admin):
    webhook = factories.webhook(admin.company, enabled=False)
    delivery = WebhookDelivery.create(webhook=webhook, event="ticket:new", payload={"data": {}}, status="failed")

    response = client.post(f"/api/webhooks/{webhook.id}/deliveries/{delivery.id}/redeliver", headers=headers)

    assert response.status_code == 409
    assert WebhookDelivery.select().count() == 1


def test_the_webhook_routes_are_in_the_openapi_spec(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]

    assert {"/api/webhooks", "/api/webhooks/events", "/api/webhooks/{webhook_id}",
            "/api/webhooks/{webhook_id}/deliveries", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            "/api/webhooks/{webhook_id}/test"} <= set(paths)
    assert "202" in paths["/api/webhooks/{webhook_id}/test"]["post"]["responses"]
