"""Webhooks: every domain event of a company, POSTed as signed JSON to the URLs it subscribed.

`fan_out` (called by `workers.events.publish` for every event) writes one `WebhookDelivery` row
per matching webhook and sends `deliver_webhook(delivery_id)`; the actor POSTs

    {"event": "message:new", "companyId": 1, "data": {...}, "timestamp": "2025-01-31T12:00:00.000Z",
     "deliveryId": 42}

with the headers

    Content-Type: application/json
    X-Wharf-Event: message:new
    X-Wharf-Delivery: 42
    X-Wharf-Timestamp: 1738324800            (Unix seconds of this attempt)
    X-Wharf-Signature: sha256=<hex HMAC-SHA256 of "<X-Wharf-Timestamp>.<raw body>" keyed with the secret>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes, compares it in
constant time, and refuses timestamps more than a few minutes old (replays). Delivery is at least
once: a receiver deduplicates on `deliveryId` (a redelivery asked for by a user is a new delivery
with the same event and data).

A 2xx answer is delivered. Network errors, timeouts (10 s for the whole request), 5xx, 408 and 429
are retried with exponential backoff (from 30 s, doubling, with jitter, at most an hour;
`Retry-After` honoured): 8 attempts over one to two hours, then the delivery is failed. Any other
answer (3xx included: redirects are not followed) fails it at once. Every attempt updates the row
(status code, error, response excerpt, duration).
Addresses outside the public internet are refused (`wharf.public_http`) unless
`HTTP_ALLOW_PRIVATE_NETWORKS` lists them.

`EVENTS` is the catalogue of the events delivered (`GET /api/webhooks/events`): a webhook subscribes
to those, their families or "*", and announcing an event missing from it raises.

A webhook with `connection_ids` (Evolution API's webhook per instance) receives only the events of those
numbers: the caller names the numbers an event belongs to (`workers.events`: a ticket's, a message's
and a flow session's through their ticket; a connection's own; each number of a campaign's rotation),
and `Subscription.wants` is the one place they are matched. An event of no number (a contact's, a
lead's) goes only to the webhooks without `connection_ids`; `webhook:test` goes to the webhook tested.

A delivery whose message was lost before its attempts were done (a crash between the row and the
send, or Redis losing its data) is sent again by the scheduler's `resend_lost_deliveries`. The events
integrations count on write their rows in the transaction of the change (`workers.events.Announcements`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import dramatiq

from api.schemas import iso_utc
from db.base import database, utcnow
from db.webhooks import Webhook, WebhookDelivery
from wharf.metrics import WEBHOOK_FAILURES
from wharf.public_http import IPNetwork, UnsafeUrl, check_url, post
from wharf.settings import settings
from workers.jobs import mark_enqueued, without_marker

logger = logging.getLogger(__name__)

TEST_EVENT = "webhook:test"
RULE_EVENT = "automation:rule"
MACRO_EVENT = "macro:run"
EVENTS = {
    "message:new": "a message was received, or written to be sent (queued)",
    "message:update": "a message changed: its status moved (sent, delivered, read or failed), it was edited or "
                      "deleted for everyone, or a reaction to it came or went",
    "message:ack_overdue": "a sent message got no delivery receipt in time",
    "ticket:new": "a contact's message opened a new ticket",
    "ticket:update": "a ticket changed: a new message, accepted, transferred, tagged, read, snoozed, woke, closed "
                     "or reopened",
    "ticket:note": "a private note was added to a ticket",
    "ticket:delete": "a ticket was deleted",
    "contact:new": "a contact was created",
    "contact:update": "a contact was changed (opting out included)",
    "contact:delete": "a contact was deleted",
    "contact:typing": "a contact is typing or recording a voice note in their chat with a number, or stopped "
                      "(Evolution API's presence.update): only to a webhook that lists it by name, not by `*` or "
                      "`contact:*`; each number watches the chats of the contacts who write to it while one does",
    "lead:new": "a lead was created",
    "lead:update": "a lead was changed",
    "lead:delete": "a lead was deleted",
    "campaign:update": "a campaign's status or progress changed (started, paused, resumed, completed...)",
    "connection:unhealthy": "a watchdog flagged a WhatsApp connection (dead, stuck or wrongly connected)",
    "connection:healthy": "a flagged connection is healthy again",
    "connection:ban_signal": "WhatsApp rate-limited, restricted or banned a number; its running campaigns paused",
    "whatsapp:qr": "a connection has a QR code or a pairing code to scan",
    "whatsapp:ready": "a connection is connected to WhatsApp",
    "whatsapp:disconnected": "a connection lost WhatsApp, or was logged out",
    "flow:session_started": "a flow began a session with a contact",
    "flow:session_ended": "a flow's session ended (`endReason` says why)",
    TEST_EVENT: "sent by POST /api/webhooks/:id/test, even to a disabled webhook",
    RULE_EVENT: "sent by an automation rule's `webhook` action to the webhook it names, whatever events that one "
                "receives: the rule, what ran it (the message, the SLA target missed or the closing) and the ticket "
                "as the rule left it",
    MACRO_EVENT: "sent by a macro's `webhook` action to the webhook it names, whatever events that one receives: the "
                 "macro, the user who ran it (null: a program) and the ticket as the macro's actions before left it",
}
EVENT_FAMILIES = frozenset(event.partition(":")[0] for event in EVENTS)
# A moment's sign, many a minute: delivered only to the webhooks that list it by name (`subscribes`).
NAMED_ONLY = frozenset({"contact:typing"})
# The number each family's events belong to, which a webhook with `connection_ids` receives them for; the events of
# a family missing here (contact, lead) belong to none: only the webhooks without `connection_ids` receive them.
CONNECTION_OF_FAMILY = {
    "message": "the message's connection (its ticket's)",
    "ticket": "the ticket's connection",
    "flow": "the connection of the session's ticket",
    "campaign": "every number the campaign sends on: its connection, or each one of its rotation",
    "connection": "the connection itself",
    "whatsapp": "the connection itself",
    "webhook": "none needed: it goes to the webhook tested, whatever its connectionIds",
    "automation": "none needed: it goes to the webhook the rule names, whatever its connectionIds",
    "macro": "none needed: it goes to the webhook the macro names, whatever its connectionIds",
}
CONNECTION_OF_EVENT = {"contact:typing": "the connection whose chat it is"}  # unlike the rest of its family
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 10
MIN_BACKOFF_MS = 30_000
MAX_BACKOFF_MS = 3_600_000
LOST_AFTER = dt.timedelta(seconds=60)  # a delivery's message is sent just after its row is written
SWEEP_PAGE = 500
SUBSCRIPTION_CACHE_SECONDS = 5.0
EXCERPT_BYTES = 1024
USER_AGENT = "Wharf-Webhooks/1"


def allowed_networks() -> tuple[IPNetwork, ...]:
    return settings.http_allow_private_networks


def check_webhook_url(url: str) -> None:
    """Raise `UnsafeUrl` for a URL deliveries could not go to (checked again at each attempt)."""
    check_url(url, allowed_networks())


def check_catalogued(event: str) -> None:
    """A ValueError for an event missing from `EVENTS`: none is delivered without being documented."""
    if event not in EVENTS:
        raise ValueError(f"the webhook event {event!r} is not in workers.webhooks.EVENTS")


def subscribable(name: str) -> bool:
    """Whether a webhook may list `name`: an event of `EVENTS`, a family of them ("ticket:*") or "*"."""
    family, _, rest = name.partition(":")
    return name in EVENTS or name == "*" or (rest == "*" and family in EVENT_FAMILIES)


def connection_of(event: str) -> str | None:
    """Which connection `event` belongs to, in words (`CONNECTION_OF_EVENT`, `CONNECTION_OF_FAMILY`); None for none."""
    return CONNECTION_OF_EVENT.get(event) or CONNECTION_OF_FAMILY.get(event.partition(":")[0])


def subscribes(events: frozenset[str] | list[str], event: str) -> bool:
    """Whether a webhook's list names this event, its family ("ticket:*") or everything ("*"); one of `NAMED_ONLY`
    must be named."""
    if event in events:
        return True
    return event not in NAMED_ONLY and ("*" in events or f"{event.partition(':')[0]}:*" in events)


@dataclass(frozen=True)
class Subscription:
    """What a webhook receives: the events it lists, of the numbers it names (None: of every number, and the
    events of none, such as a contact's)."""

    webhook_id: int
    events: frozenset[str]
    connection_ids: frozenset[int] | None

    @classmethod
    def of(cls, webhook: Webhook) -> Subscription:
        connection_ids = frozenset(webhook.connection_ids) if webhook.connection_ids else None
        return cls(webhook.id, frozenset(webhook.events), connection_ids)

    def wants(self, event: str, connection_ids: Collection[int]) -> bool:
        """Whether it receives `event`, which belongs to `connection_ids` (a campaign's rotation: several)."""
        if not subscribes(self.events, event):
            return False
        return self.connection_ids is None or not self.connection_ids.isdisjoint(connection_ids)


SUBSCRIPTION_FIELDS = (Webhook.id, Webhook.company, Webhook.events, Webhook.connection_ids)


def load_subscriptions() -> dict[int, list[Subscription]]:
    by_company: dict[int, list[Subscription]] = defaultdict(list)
    for webhook in Webhook.select(*SUBSCRIPTION_FIELDS).where(Webhook.enabled):
        by_company[webhook.company_id].append(Subscription.of(webhook))
    return dict(by_company)


class SubscriptionCache:
    """The enabled webhooks of every company, read in one query at most once per `ttl_seconds`.

    `fan_out` runs for every message, receipt and ticket change, and most companies have no
    webhook: for them the answer must cost no query. Changes made through the API invalidate the
    copy of the process that made them at once; other processes (workers, the gateway, other API
    workers) see them within `ttl_seconds`. So a new or re-enabled webhook, or one given more numbers or
    events, may miss the events of its first seconds; a disabled or deleted one, or one whose numbers or
    events were narrowed, is checked again in the database before any delivery row is written, and a
    disabled one by `deliver_webhook` before it sends.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._lock = threading.Lock()
        self._by_company: dict[int, list[Subscription]] = {}
        self._expires_at = 0.0
        self._generation = 0

    def matching(self, company_id: int, event: str, connection_ids: Collection[int] = ()) -> list[int]:
        """Ids of the company's enabled webhooks that receive `event` of `connection_ids` (`Subscription.wants`)."""
        return [subscription.webhook_id for subscription in self._current().get(company_id, ())
                if subscription.wants(event, connection_ids)]

    def invalidate(self) -> None:
        self._generation += 1
        self._expires_at = 0.0

    def _current(self) -> dict[int, list[Subscription]]:
        if time.monotonic() < self._expires_at:
            return self._by_company
        with self._lock:
            if time.monotonic() >= self._expires_at:
                generation = self._generation
                self._by_company = load_subscriptions()
                if generation == self._generation:  # not invalidated while it loaded
                    self._expires_at = time.monotonic() + self.ttl_seconds
        return self._by_company


subscriptions = SubscriptionCache(SUBSCRIPTION_CACHE_SECONDS)


def envelope(event: str, company_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """The body of a delivery, but for its `deliveryId` (added when it is sent)."""
    return {"event": event, "companyId": company_id, "data": data, "timestamp": iso_utc(utcnow())}


def create_delivery(webhook_id: int, event: str, payload: dict[str, Any],
                    redelivery_of: int | None = None) -> WebhookDelivery:
    """Write a pending delivery and enqueue its first attempt; call outside a transaction."""
    if database.in_transaction():
        raise RuntimeError("a webhook delivery inside a transaction: the worker could run before the commit")
    delivery = WebhookDelivery.create(webhook=webhook_id, event=event, payload=payload, redelivery_of=redelivery_of)
    enqueue_delivery(delivery.id)
    return delivery


def write_deliveries(company_id: int, event: str, data: dict, connection_ids: Collection[int] = ()) -> list[int]:
    """The pending deliveries of `event`, one per enabled webhook of the company that receives it: subscribed
    to it, and for every number or for one of `connection_ids`, the numbers the event belongs to (none: a
    contact's event). They may be written in the transaction of the change it announces, their first
    attempts enqueued once it has committed (`enqueue_delivery`). With no subscription it costs a
    dictionary lookup (`SubscriptionCache`). An event missing from `EVENTS` raises a ValueError."""
    check_catalogued(event)
    webhook_ids = subscriptions.matching(company_id, event, connection_ids)
    if not webhook_ids:
        return []
    live = Webhook.select(*SUBSCRIPTION_FIELDS).where(Webhook.id.in_(webhook_ids), Webhook.enabled)
    payload = envelope(event, company_id, data)
    return [WebhookDelivery.create(webhook=webhook.id, event=event, payload=payload).id for webhook in live
            if Subscription.of(webhook).wants(event, connection_ids)]


def fan_out(company_id: int, event: str, data: dict, connection_ids: Collection[int] = ()) -> None:
    """The deliveries of an event whose change is committed, written and enqueued (`write_deliveries`); never
    raises (a failure here is logged and does not fail the caller's work) but for an event missing from `EVENTS`."""
    check_catalogued(event)
    try:
        for delivery_id in write_deliveries(company_id, event, data, connection_ids):
            enqueue_delivery(delivery_id)
    except Exception:
        logger.exception("webhook fan-out of %s for company %s failed", event, company_id)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Wharf-Signature value: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verdict(status_code: int) -> str:
    """What an HTTP answer makes of the delivery: delivered, retry, or failed for good."""
    if 200 <= status_code < 300:
        return "delivered"
    if status_code in (408, 429) or status_code >= 500:
        return "retry"
    return "failed"


def retry_after_ms(headers: dict[str, str]) -> int | None:
    """A Retry-After in seconds, capped at the longest backoff; None when absent or a date."""
    value = headers.get("retry-after", "").strip()
    return min(int(value) * 1000, MAX_BACKOFF_MS) if value.isdigit() else None


@dataclass(frozen=True)
class Attempt:
    outcome: str  # delivered | retry | failed
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    excerpt: str | None = None
    retry_after_ms: int | None = None


def attempt_delivery(delivery: WebhookDelivery, webhook: Webhook) -> Attempt:
    """POST the delivery once and say what came of it; network failures are outcomes, not errors."""
    body = json.dumps({**delivery.payload, "deliveryId": delivery.id}, separators=(",", ":"), default=str).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Wharf-Event": delivery.event,
        "X-Wharf-Delivery": str(delivery.id),
        "X-Wharf-Timestamp": timestamp,
        "X-Wharf-Signature": sign(webhook.secret, timestamp, body),
    }
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        answer = post(webhook.url, body, headers, allowed=allowed_networks(), timeout=TIMEOUT_SECONDS,
                      read_bytes=EXCERPT_BYTES)
    except UnsafeUrl as error:
        return Attempt("failed", elapsed(), error=str(error))
    except (OSError, http.client.HTTPException) as error:
        return Attempt("retry", elapsed(), error=f"{type(error).__name__}: {error}")
    outcome = verdict(answer.status)
    return Attempt(
        outcome, elapsed(), status_code=answer.status,
        error=None if outcome == "delivered" else f"the receiver answered HTTP {answer.status}",
        excerpt=answer.body.decode("utf-8", errors="replace"),
        retry_after_ms=retry_after_ms(answer.headers) if outcome == "retry" else None,
    )


def record_attempt(delivery: WebhookDelivery, attempt: Attempt, status: str) -> None:
    now = utcnow()
    WebhookDelivery.update(
        status=status, attempts=WebhookDelivery.attempts + 1, last_status_code=attempt.status_code,
        last_error=attempt.error, response_excerpt=attempt.excerpt, duration_ms=attempt.duration_ms,
        last_attempt_at=now, delivered_at=now if status == "delivered" else None,
    ).where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "pending").execute()


def give_up(delivery_id: int, reason: str) -> None:
    WebhookDelivery.update(status="failed", last_error=reason).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending"
    ).execute()


@dramatiq.actor(queue_name="webhooks", max_retries=MAX_ATTEMPTS, min_backoff=MIN_BACKOFF_MS,
                max_backoff=MAX_BACKOFF_MS, time_limit=60_000)
def deliver_webhook(delivery_id: int) -> None:
    """Make one attempt at a pending delivery; a delivered or failed one is never sent again."""
    delivery = WebhookDelivery.select(WebhookDelivery, Webhook).join(Webhook).where(
        WebhookDelivery.id == delivery_id
    ).first()
    if delivery is None or delivery.status != "pending":
        return
    webhook = delivery.webhook
    if not webhook.enabled and delivery.event != TEST_EVENT:
        give_up(delivery_id, "the webhook was disabled before this delivery was made")
        return
    attempt = attempt_delivery(delivery, webhook)
    exhausted = delivery.attempts + 1 >= MAX_ATTEMPTS
    final = attempt.outcome == "failed" or (attempt.outcome == "retry" and exhausted)
    if attempt.outcome != "delivered":
        WEBHOOK_FAILURES.labels(final=str(final).lower()).inc()
    if attempt.outcome != "retry":
        record_attempt(delivery, attempt, attempt.outcome)
        return
    if final:
        record_attempt(delivery, attempt, "failed")
        return
    record_attempt(delivery, attempt, "pending")
    raise dramatiq.Retry(attempt.error or "retry", delay=attempt.retry_after_ms)


def enqueued_marker(delivery_id: int) -> str:
    return f"wharf:webhook-enqueued:{delivery_id}"


def enqueue_delivery(delivery_id: int) -> None:
    """Send the delivery's first attempt, then mark it as having reached Redis: Dramatiq keeps it from
    there (its retries included), and `resend_lost_deliveries` knows a pending one without the mark."""
    deliver_webhook.send(delivery_id)
    mark_enqueued(deliver_webhook.broker.client, enqueued_marker(delivery_id))


def resend_lost_deliveries(lost_after: dt.timedelta = LOST_AFTER) -> int:
    """The scheduler's sweep: send again the pending deliveries older than `lost_after` whose message
    never reached Redis (a crash between the row and the send) or that Redis lost since; returns how many."""
    resent, after_id = 0, 0
    while True:
        page = [delivery_id for (delivery_id,) in WebhookDelivery.select(WebhookDelivery.id).where(
            WebhookDelivery.status == "pending", WebhookDelivery.created_at < utcnow() - lost_after,
            WebhookDelivery.id > after_id).order_by(WebhookDelivery.id).limit(SWEEP_PAGE).tuples()]
        if not page:
            break
        for delivery_id in without_marker(deliver_webhook.broker.client, page, enqueued_marker):
            enqueue_delivery(delivery_id)
            resent += 1
        after_id = page[-1]
    if resent:
        logger.warning("sent %d lost webhook deliveries again", resent)
    return resent


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def prune_webhook_deliveries() -> int:
    """Delete delivered and failed deliveries older than JOB_RETENTION_DAYS; return how many."""
    cutoff = utcnow() - dt.timedelta(days=settings.job_retention_days)
    return WebhookDelivery.delete().where(
        WebhookDelivery.created_at < cutoff, WebhookDelivery.status.in_(("delivered", "failed"))
    ).execute()
