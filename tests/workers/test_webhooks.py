"""Webhook deliveries: signed POSTs to a real HTTP server on loopback, retries, refusals, fan-out."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import ssl
import subprocess
import time

import dramatiq
import pytest

from db.base import database, utcnow
from db.contacts import Contact
from db.webhooks import Webhook, WebhookDelivery
from tests.conftest import free_port, running_worker
from tests.waiting import wait_for
from tests.webhook_receiver import Answer, allow_loopback, fast_retries, serving
from wharf.public_http import UnsafeUrl, is_allowed, is_public, post, resolve_allowed
from workers.acks import record_receipt
from workers.events import Announcements, announcing
from workers.messages import write_outbound
from workers.webhooks import (
    MAX_ATTEMPTS,
    SubscriptionCache,
    deliver_webhook,
    enqueued_marker,
    fan_out,
    prune_webhook_deliveries,
    resend_lost_deliveries,
    retry_after_ms,
    subscriptions,
    verdict,
)

SECRET = "whsec_test-secret-for-signatures"


@pytest.fixture(autouse=True)
def fresh_subscriptions():
    subscriptions.invalidate()


def run_deliveries(broker, worker) -> None:
    broker.join("webhooks", timeout=20_000)
    worker.join()


def only_delivery() -> WebhookDelivery:
    (delivery,) = WebhookDelivery.select()
    return delivery


def test_an_event_is_posted_signed_and_the_delivery_recorded(broker, worker, factories, receiver):
    company = factories.company()
    webhook = factories.webhook(company, url=receiver.url, events=["message:new"], secret=SECRET)

    fan_out(company.id, "message:new", {"id": 7, "body": "Olá"})
    run_deliveries(broker, worker)

    (request,) = receiver.received
    delivery = only_delivery()
    assert request.path == "/hooks/wharf"
    assert request.signature_is_valid(SECRET)
    assert not request.signature_is_valid("another-secret-entirely")
    assert request.headers["X-Wharf-Event"] == "message:new"
    assert request.headers["X-Wharf-Delivery"] == str(delivery.id)
    assert abs(int(request.headers["X-Wharf-Timestamp"]) - time.time()) < 60
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body == {"event": "message:new", "companyId": company.id, "data": {"id": 7, "body": "Olá"},
                    "timestamp": body["timestamp"], "deliveryId": delivery.id}
    assert body["timestamp"].endswith("Z")
    assert (delivery.webhook_id, delivery.status, delivery.attempts, delivery.last_status_code) == (
        webhook.id, "delivered", 1, 200)
    assert delivery.response_excerpt == "ok" and delivery.last_error is None
    assert delivery.duration_ms is not None and delivery.delivered_at is not None


@pytest.mark.parametrize("status", [500, 503, 408, 429])
def test_a_5xx_408_or_429_is_retried_until_delivered(broker, worker, factories, receiver, status):
    company = factories.company()
    factories.webhook(company, url=receiver.url, secret=SECRET)
    receiver.answer(status, Answer(status=status, body=b"still down"))

    fan_out(company.id, "ticket:new", {"id": 1})
    run_deliveries(broker, worker)

    delivery = only_delivery()
    assert [r.headers["X-Wharf-Delivery"] for r in receiver.received] == [str(delivery.id)] * 3
    assert all(r.signature_is_valid(SECRET) for r in receiver.received)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 301])
def test_another_4xx_or_a_redirect_fails_the_delivery_at_once(broker, worker, factories, receiver, status):
    company = factories.company()
    factories.webhook(company, url=receiver.url)
    receiver.answer(Answer(status=status, body=b"no such hook"))

    fan_out(company.id, "ticket:new", {"id": 1})
    run_deliveries(broker, worker)

    delivery = only_delivery()
    assert len(receiver.received) == 1
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, status)
    assert delivery.response_excerpt == "no such hook"
    assert str(status) in delivery.last_error and delivery.delivered_at is None


def test_an_unreachable_receiver_is_tried_max_attempts_times_then_failed(broker, worker, factories, monkeypatch):
    allow_loopback(monkeypatch)
    fast_retries(monkeypatch)
    company = factories.company()
    factories.webhook(company, url=f"http://127.0.0.1:{free_port()}/nobody-listens")

    fan_out(company.id, "ticket:new", {"id": 1})
    run_deliveries(broker, worker)

    delivery = only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", MAX_ATTEMPTS, None)
    assert "ConnectionRefusedError" in delivery.last_error


def test_a_receiver_slower_than_the_timeout_is_retried(broker, worker, factories, receiver, monkeypatch):
    monkeypatch.setattr("workers.webhooks.TIMEOUT_SECONDS", 0.3)
    company = factories.company()
    factories.webhook(company, url=receiver.url)
    receiver.answer(Answer(delay_seconds=1.0))

    fan_out(company.id, "ticket:new", {"id": 1})
    run_deliveries(broker, worker)

    delivery = only_delivery()
    assert len(receiver.received) == 2
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_one_deadline_bounds_the_whole_request_even_when_the_answer_drips(receiver):
    receiver.answer(Answer(body=b"0123456789", drip_seconds=0.1))
    loopback = [ipaddress.ip_network("127.0.0.1/32")]
    started = time.monotonic()

    with pytest.raises(TimeoutError):
        post(receiver.url, b"{}", {}, allowed=loopback, timeout=0.3)

    assert time.monotonic() - started < 0.8
    assert post(receiver.url, b"{}", {}, allowed=loopback, timeout=2).body == b"ok"


@pytest.fixture
def localhost_certificate(tmp_path):
    """A self-signed certificate for localhost, made with the openssl command."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_https_goes_to_the_checked_address_with_the_certificate_verified_for_the_name(localhost_certificate,
                                                                                       monkeypatch):
    cert, key = localhost_certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    names: list[str] = []
    server_tls.sni_callback = lambda _socket, name, _context: names.append(name)
    loopback = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128")]

    with serving(tls=server_tls) as receiver:
        url = receiver.url.replace("127.0.0.1", "localhost")
        with pytest.raises(ssl.SSLCertVerificationError):
            post(url, b"{}", {}, allowed=loopback, timeout=5)  # not signed by a CA we trust
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        answer = post(url, b"{}", {}, allowed=loopback, timeout=5)

    assert answer.status == 200 and answer.body == b"ok"
    assert names[-1] == "localhost"
    assert receiver.received[-1].headers["Host"] == f"localhost:{receiver.server.server_port}"


def test_a_private_address_is_refused_at_delivery_without_a_request(broker, worker, factories):
    """No allow-list: the receiver on loopback never hears from us, whatever the URL says."""
    with serving() as receiver:
        company = factories.company()
        factories.webhook(company, url=receiver.url)
        factories.webhook(company, url=receiver.url.replace("127.0.0.1", "localhost"))

        fan_out(company.id, "ticket:new", {"id": 1})
        run_deliveries(broker, worker)

        assert receiver.received == []
    deliveries = list(WebhookDelivery.select())
    assert [(d.status, d.attempts) for d in deliveries] == [("failed", 1), ("failed", 1)]
    assert all("not public" in d.last_error for d in deliveries)


def test_a_delivered_delivery_is_not_sent_again(broker, worker, factories, receiver):
    company = factories.company()
    factories.webhook(company, url=receiver.url)
    fan_out(company.id, "ticket:new", {"id": 1})
    run_deliveries(broker, worker)
    delivery = only_delivery()

    deliver_webhook.send(delivery.id)  # the same message, delivered again by the broker
    run_deliveries(broker, worker)

    assert len(receiver.received) == 1
    assert WebhookDelivery.get_by_id(delivery.id).attempts == 1


def test_a_delivery_whose_message_never_reached_redis_is_sent_again_once(broker, worker, factories, receiver):
    company = factories.company()
    webhook = factories.webhook(company, url=receiver.url)
    fan_out(company.id, "ticket:new", {"id": 1})  # enqueued as usual
    lost = WebhookDelivery.create(webhook=webhook, event="ticket:new", payload={"data": {"id": 2}})  # then a crash
    run_deliveries(broker, worker)

    assert resend_lost_deliveries(lost_after=dt.timedelta(0)) == 1
    run_deliveries(broker, worker)

    assert sorted(json.loads(r.body)["deliveryId"] for r in receiver.received) == sorted([lost.id, lost.id - 1])
    assert WebhookDelivery.get_by_id(lost.id).status == "delivered"
    assert resend_lost_deliveries(lost_after=dt.timedelta(0)) == 0


def test_a_status_or_a_send_committed_just_before_a_crash_still_reaches_the_webhooks(broker, worker, factories,
                                                                                     receiver):
    company = factories.company()
    factories.webhook(company, url=receiver.url, events=["message:*"])
    ticket = factories.ticket(company)
    sent = factories.message(ticket, direction="out", status="sent", wa_id="3EB0SENT")
    # Both committed, and the process died before `dispatch_outbound` and before the receipt's `send`.
    with database.atomic():
        written = write_outbound(ticket, "Olá")
    record_receipt({"connection_id": ticket.connection_id, "wa_ids": ["3EB0SENT"], "status": "read"})

    assert resend_lost_deliveries(lost_after=dt.timedelta(0)) == 2
    run_deliveries(broker, worker)

    announced = sorted((body["event"], body["data"]["id"], body["data"]["status"])
                       for body in (json.loads(r.body) for r in receiver.received))
    assert announced == [("message:new", written.message.id, "queued"), ("message:update", sent.id, "read")]


def test_a_ticket_change_committed_just_before_a_crash_still_reaches_the_webhooks(app, client, broker, worker,
                                                                                  factories, receiver, monkeypatch):
    company = factories.company()
    agent = factories.user(company, role="agent")
    factories.webhook(company, url=receiver.url, events=["ticket:*"])
    ticket = factories.ticket(company, connection=factories.connection(company))

    def dies(announcements, pipeline=None):
        raise SystemExit("the API process died after the commit, before the event went out")

    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr(Announcements, "send", dies)
        client.post(f"/api/tickets/{ticket.id}/accept", headers=factories.auth_headers(app, agent))

    assert resend_lost_deliveries(lost_after=dt.timedelta(0)) == 1
    run_deliveries(broker, worker)

    [body] = [json.loads(r.body) for r in receiver.received]
    assert (body["event"], body["data"]["id"], body["data"]["status"]) == ("ticket:update", ticket.id, "open")


def test_a_delivery_waiting_for_its_retry_when_redis_lost_its_data_is_sent_again(broker, factories, receiver):
    company = factories.company()
    factories.webhook(company, url=receiver.url)
    receiver.script.append(Answer(status=503))
    fan_out(company.id, "ticket:new", {"id": 1})
    with pytest.raises(dramatiq.Retry):
        deliver_webhook(only_delivery().id)  # the first attempt, as a worker runs it: to be retried
    broker.client.flushdb()  # Redis restarted without its data: the delivery's messages are gone

    assert resend_lost_deliveries(lost_after=dt.timedelta(0)) == 1
    with running_worker(broker) as worker:
        run_deliveries(broker, worker)

    assert len(receiver.received) == 2
    assert (only_delivery().status, only_delivery().attempts) == ("delivered", 2)


def test_a_webhook_disabled_before_its_delivery_sends_nothing(database, factories, receiver):
    company = factories.company()
    webhook = factories.webhook(company, url=receiver.url)
    delivery = WebhookDelivery.create(webhook=webhook, event="ticket:new", payload={"data": {}})
    Webhook.update(enabled=False).where(Webhook.id == webhook.id).execute()

    deliver_webhook(delivery.id)

    assert receiver.received == []
    delivery = WebhookDelivery.get_by_id(delivery.id)
    assert (delivery.status, delivery.attempts) == ("failed", 0) and "disabled" in delivery.last_error


def test_fan_out_writes_one_delivery_per_subscribed_enabled_webhook_of_the_company(broker, factories):
    company = factories.company()
    every = factories.webhook(company, events=["*"])
    tickets = factories.webhook(company, events=["ticket:*"])
    factories.webhook(company, events=["message:new", "message:update"])
    factories.webhook(company, events=["ticket:new"], enabled=False)
    factories.webhook(factories.company(), events=["*"])

    fan_out(company.id, "ticket:new", {"id": 5})

    deliveries = list(WebhookDelivery.select().order_by(WebhookDelivery.webhook))
    assert [d.webhook_id for d in deliveries] == [every.id, tickets.id]
    assert {d.status for d in deliveries} == {"pending"}
    assert deliveries[0].payload["data"] == {"id": 5} and deliveries[0].payload["companyId"] == company.id
    assert broker.client.hlen(f"{broker.namespace}:webhooks.msgs") == 2


def test_an_event_published_by_the_domain_reaches_the_webhooks(broker, factories):
    from workers.events import publish

    company = factories.company()
    webhook = factories.webhook(company, events=["whatsapp:ready"])

    publish("whatsapp:ready", company.id, {"connectionId": 3, "status": "connected"})

    delivery = only_delivery()
    assert (delivery.webhook_id, delivery.event) == (webhook.id, "whatsapp:ready")


def test_fan_out_for_a_company_without_webhooks_writes_nothing_and_runs_no_sql(database, factories, caplog):
    subscribed = factories.company()
    factories.webhook(subscribed, events=["message:new"])
    quiet = factories.company()
    fan_out(quiet.id, "message:new", {"id": 1})  # loads the subscriptions once

    with caplog.at_level(logging.DEBUG, logger="peewee"):
        for n in range(1000):
            fan_out(quiet.id, "message:new", {"id": n})
            fan_out(subscribed.id, "message:update", {"id": n})
    queries = [record for record in caplog.records if record.name == "peewee"]

    assert queries == []
    assert WebhookDelivery.select().count() == 0


def test_the_cache_sees_another_process_s_change_within_its_ttl(database, factories):
    company = factories.company()
    cache = SubscriptionCache(ttl_seconds=0.3)
    assert cache.matching(company.id, "ticket:new") == []

    webhook = Webhook.create(company=company, url="https://93.184.215.14/", events=["*"], secret="s" * 20)

    assert cache.matching(company.id, "ticket:new") == []  # stale for at most the TTL
    assert wait_for(lambda: cache.matching(company.id, "ticket:new") == [webhook.id], timeout=2)
    Webhook.update(enabled=False).execute()
    cache.invalidate()
    assert cache.matching(company.id, "ticket:new") == []


def test_a_webhook_deleted_while_cached_gets_no_delivery_and_no_error(database, factories):
    company = factories.company()
    webhook = factories.webhook(company)
    fan_out(company.id, "ticket:new", {"id": 1})
    Webhook.delete().where(Webhook.id == webhook.id).execute()  # by another process: this cache still has it

    fan_out(company.id, "ticket:new", {"id": 2})

    assert WebhookDelivery.select().count() == 0


def test_old_finished_deliveries_are_pruned_and_pending_ones_kept(database, factories):
    webhook = factories.webhook(factories.company())
    old = utcnow() - dt.timedelta(days=90)
    for status in ("delivered", "failed", "pending"):
        WebhookDelivery.create(webhook=webhook, event="ticket:new", payload={}, status=status, created_at=old)
    recent = WebhookDelivery.create(webhook=webhook, event="ticket:new", payload={}, status="delivered")

    assert prune_webhook_deliveries() == 2

    assert {(d.status, d.id == recent.id) for d in WebhookDelivery.select()} == {("pending", False), ("delivered", True)}


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.10",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "2001:db8::1",
])
def test_addresses_outside_the_public_internet_are_refused(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert is_public(ipaddress.ip_address(address))


def test_the_allow_list_admits_only_its_networks():
    allowed = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]

    assert is_allowed(ipaddress.ip_address("10.20.30.40"), allowed)
    assert is_allowed(ipaddress.ip_address("fd12::1"), allowed)
    assert not is_allowed(ipaddress.ip_address("192.168.0.1"), allowed)
    assert not is_allowed(ipaddress.ip_address("127.0.0.1"), allowed)


def test_a_host_name_is_refused_when_it_resolves_to_loopback():
    with pytest.raises(UnsafeUrl):
        resolve_allowed("localhost", 80, [])
    loopback = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    assert {str(address) for address in resolve_allowed("localhost", 80, loopback)} <= {"127.0.0.1", "::1"}


@pytest.mark.parametrize("status, outcome", [(200, "delivered"), (204, "delivered"), (301, "failed"), (400, "failed"),
                                             (404, "failed"), (408, "retry"), (429, "retry"), (500, "retry"),
                                             (502, "retry")])
def test_the_verdict_on_each_answer(status, outcome):
    assert verdict(status) == outcome


def test_retry_after_in_seconds_is_honoured_and_capped():
    assert retry_after_ms({"retry-after": "120"}) == 120_000
    assert retry_after_ms({"retry-after": "999999"}) == 3_600_000
    assert retry_after_ms({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_ms({}) is None


def test_announcing_commits_the_deliveries_with_the_change_and_drops_them_with_it(factories, redis_client):
    company = factories.company()
    factories.webhook(company, events=["contact:*"])
    contact = factories.contact(company)

    with pytest.raises(ZeroDivisionError), announcing() as announcements:
        contact.delete_instance()
        announcements.add("contact:delete", company.id, {"id": contact.id})
        raise ZeroDivisionError("the change failed after its announcement was added")

    assert Contact.get_or_none(Contact.id == contact.id) is not None
    assert WebhookDelivery.select().count() == 0

    with announcing() as announcements:
        contact.delete_instance()
        announcements.add("contact:delete", company.id, {"id": contact.id})

    [delivery] = WebhookDelivery.select()
    assert (delivery.event, delivery.payload["data"]) == ("contact:delete", {"id": contact.id})
    assert redis_client.exists(enqueued_marker(delivery.id))  # its first attempt was enqueued after the commit
