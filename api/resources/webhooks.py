"""Webhooks: the URLs a company's events are POSTed to (signed), and the log of each delivery.

Admins manage them, and programs with an API key's `webhooks:write`. A webhook subscribes to events of the
catalogue (`GET /api/webhooks/events`), their families or "*"; a name stored before it was checked, or of
an event since removed, is kept and matches nothing. With `connectionIds` (the company's connections) it receives
only the events of those numbers, as Evolution API's webhook per instance; `GET /api/webhooks/events` says which
number each event belongs to. The secret is shown once, when the webhook is created;
afterwards only its last characters (a PATCH with a new secret rotates it). URLs that resolve outside the
public internet are refused here and again at each delivery (workers/webhooks.py has the scheme and the
retries).
"""

from __future__ import annotations

from secrets import token_urlsafe
from typing import Annotated, Literal

from flask import Blueprint
from pydantic import AfterValidator, Field

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import Conflict, NotFound, ValidationFailed
from api.pagination import paginate
from api.resources.queues import owned_ids
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.connections import Connection
from db.webhooks import Webhook, WebhookDelivery
from wharf.public_http import UnsafeUrl
from workers.webhooks import (
    EVENTS,
    TEST_EVENT,
    check_webhook_url,
    connection_of,
    create_delivery,
    envelope,
    subscribable,
    subscriptions,
)

SCOPE = "webhooks:write"  # programs manage their own subscriptions
blueprint = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")
MANAGERS = ("super", "admin")
EVENTS_LIST = "GET /api/webhooks/events"
EVENTS_HELP = f'event names ({EVENTS_LIST} lists them), a family ("ticket:*") or "*"'
CONNECTIONS_HELP = (f"only the events of these connections (numbers; {EVENTS_LIST} says which each event belongs to) "
                    "and webhook:test; null: every event of the company")
CLEARABLE = ("connection_ids",)  # null sets it back to every number; a null for any other field changes nothing


def known_event(name: str) -> str:
    if not subscribable(name):
        raise ValueError(f'unknown event "{name}": {EVENTS_LIST} lists them')
    return name


EventName = Annotated[
    str, Field(pattern=r"^(\*|[a-z_]+:(\*|[a-z_]+))$", max_length=60), AfterValidator(known_event)
]


class WebhookFields(Schema):
    url: str | None = Field(None, max_length=2048, description="http(s) URL on the public internet")
    events: list[EventName] | None = Field(None, min_length=1, max_length=50, description=EVENTS_HELP)
    connection_ids: list[int] | None = Field(None, min_length=1, max_length=50, description=CONNECTIONS_HELP)
    secret: str | None = Field(None, min_length=16, max_length=128, description="generated when not given")
    enabled: bool | None = None
    description: str | None = Field(None, max_length=500)


class WebhookCreate(WebhookFields):
    url: str = Field(max_length=2048, description="http(s) URL on the public internet")
    events: list[EventName] = Field(min_length=1, max_length=50, description=EVENTS_HELP)


class WebhookOut(OutSchema):
    id: int
    url: str
    events: list[str]
    connection_ids: list[int] | None = Field(description=CONNECTIONS_HELP)
    enabled: bool
    description: str
    secret_hint: str = Field(description="the secret's last characters")
    created_at: UtcDateTime
    updated_at: UtcDateTime


class WebhookWithSecretOut(WebhookOut):
    secret: str = Field(description="shown only in this answer: keep it to check X-Wharf-Signature")


class WebhookEventOut(OutSchema):
    name: str
    description: str
    connection: str | None = Field(description="the connection the event belongs to, for the webhooks with "
                                               "connectionIds; null: none, so only those without them receive it")


class WebhookEventsOut(OutSchema):
    items: list[WebhookEventOut]


class DeliveryOut(OutSchema):
    id: int
    webhook_id: int
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    response_excerpt: str | None
    duration_ms: int | None
    payload: dict
    redelivery_of_id: int | None
    created_at: UtcDateTime
    last_attempt_at: UtcDateTime | None
    delivered_at: UtcDateTime | None


class DeliveryQuery(PageQuery):
    status: Literal["pending", "delivered", "failed"] | None = None
    event: str | None = None


def secret_hint(secret: str) -> str:
    return "…" + secret[-4:]


def webhook_json(webhook: Webhook, with_secret: bool = False) -> dict:
    schema = WebhookWithSecretOut if with_secret else WebhookOut
    return schema.model_validate({
        "id": webhook.id, "url": webhook.url, "events": webhook.events, "connection_ids": webhook.connection_ids,
        "enabled": webhook.enabled, "description": webhook.description, "secret_hint": secret_hint(webhook.secret),
        "secret": webhook.secret, "created_at": webhook.created_at, "updated_at": webhook.updated_at,
    }).to_json()


def delivery_json(delivery: WebhookDelivery) -> dict:
    return DeliveryOut.model_validate(delivery).to_json()


def audit_view(webhook: Webhook) -> dict:
    """What the audit log keeps of a webhook: the secret's hint, never the secret."""
    return snapshot(webhook, secret=secret_hint(webhook.secret))


def audit(action: str, webhook: Webhook, before: dict | None = None, rotated: bool = False) -> None:
    hint = secret_hint(webhook.secret)
    log_change(action, webhook, before, secret=f"{hint} (rotated)" if rotated else hint)


def save_webhook(webhook: Webhook, body: WebhookFields) -> None:
    """Write the fields sent; 400 for a URL deliveries could not go to, or for connections not the company's.
    A null leaves a field as it is, but for the `CLEARABLE` ones."""
    changes = {name: value for name, value in body.model_dump(exclude_unset=True).items()
               if value is not None or name in CLEARABLE}
    if "url" in changes:
        try:
            check_webhook_url(changes["url"])
        except UnsafeUrl as error:
            raise ValidationFailed("this URL cannot receive webhooks", {"url": str(error)}) from None
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    if changes.get("connection_ids"):
        changes["connection_ids"] = owned_ids(Connection, changes["connection_ids"], "connectionIds")
    for name, value in changes.items():
        setattr(webhook, name, value)
    webhook.save()
    subscriptions.invalidate()


def get_delivery(webhook: Webhook, delivery_id: int) -> WebhookDelivery:
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id, WebhookDelivery.webhook == webhook.id)
    if delivery is None:
        raise NotFound("delivery")
    return delivery


@blueprint.get("")
@endpoint(summary="List the company's webhooks", tags=["webhooks"], query=PageQuery, response=page_of(WebhookOut),
          roles=MANAGERS, scope=SCOPE)
def list_webhooks(query: PageQuery):
    return paginate(owned(Webhook).order_by(Webhook.id), query, webhook_json)


@blueprint.get("/events")
@endpoint(summary="The events a webhook can subscribe to, with what makes each fire", tags=["webhooks"],
          response=WebhookEventsOut, roles=MANAGERS, scope=SCOPE)
def list_events():
    items = [{"name": name, "description": description, "connection": connection_of(name)}
             for name, description in EVENTS.items()]
    return WebhookEventsOut.model_validate({"items": items}).to_json()


@blueprint.post("")
@endpoint(summary="Subscribe a URL to events (the secret is shown in this answer only)", tags=["webhooks"],
          body=WebhookCreate, response=WebhookWithSecretOut, status=201, roles=MANAGERS, scope=SCOPE, errors=[400])
def create_webhook(body: WebhookCreate):
    webhook = Webhook(company=current_principal().company_id, secret=body.secret or f"whsec_{token_urlsafe(32)}")
    save_webhook(webhook, body)
    audit("created", webhook)
    return webhook_json(webhook, with_secret=True)


@blueprint.get("/<int:webhook_id>")
@endpoint(summary="Show a webhook", tags=["webhooks"], response=WebhookOut, roles=MANAGERS, scope=SCOPE, errors=[404])
def show_webhook(webhook_id: int):
    return webhook_json(get_owned(Webhook, webhook_id, "webhook"))


@blueprint.patch("/<int:webhook_id>")
@endpoint(summary="Change a webhook (send a new `secret` to rotate it)", tags=["webhooks"], body=WebhookFields,
          response=WebhookOut, roles=MANAGERS, scope=SCOPE, errors=[400, 404])
def update_webhook(webhook_id: int, body: WebhookFields):
    webhook = get_owned(Webhook, webhook_id, "webhook")
    before, old_secret = audit_view(webhook), webhook.secret
    save_webhook(webhook, body)
    audit("updated", webhook, before, rotated=webhook.secret != old_secret)
    return webhook_json(webhook)


@blueprint.delete("/<int:webhook_id>")
@endpoint(summary="Delete a webhook and its delivery log", tags=["webhooks"], status=204, roles=MANAGERS,
          errors=[404], scope=SCOPE)
def delete_webhook(webhook_id: int):
    webhook = get_owned(Webhook, webhook_id, "webhook")
    audit("deleted", webhook)
    webhook.delete_instance()
    subscriptions.invalidate()


@blueprint.get("/<int:webhook_id>/deliveries")
@endpoint(summary="The webhook's deliveries, newest first", tags=["webhooks"], query=DeliveryQuery,
          response=page_of(DeliveryOut), roles=MANAGERS, scope=SCOPE, errors=[404])
def list_deliveries(webhook_id: int, query: DeliveryQuery):
    webhook = get_owned(Webhook, webhook_id, "webhook")
    deliveries = WebhookDelivery.select().where(WebhookDelivery.webhook == webhook.id)
    if query.status:
        deliveries = deliveries.where(WebhookDelivery.status == query.status)
    if query.event:
        deliveries = deliveries.where(WebhookDelivery.event == query.event)
    return paginate(deliveries.order_by(WebhookDelivery.id.desc()), query, delivery_json)


@blueprint.get("/<int:webhook_id>/deliveries/<int:delivery_id>")
@endpoint(summary="Show one delivery", tags=["webhooks"], response=DeliveryOut, roles=MANAGERS, scope=SCOPE, errors=[404])
def show_delivery(webhook_id: int, delivery_id: int):
    return delivery_json(get_delivery(get_owned(Webhook, webhook_id, "webhook"), delivery_id))


@blueprint.post("/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
@endpoint(summary="Send a delivery's event again, as a new delivery", tags=["webhooks"], response=DeliveryOut,
          status=202, roles=MANAGERS, scope=SCOPE, errors=[404, 409], enqueues=True)
def redeliver(webhook_id: int, delivery_id: int):
    webhook = get_owned(Webhook, webhook_id, "webhook")
    original = get_delivery(webhook, delivery_id)
    if not webhook.enabled and original.event != TEST_EVENT:
        raise Conflict("the webhook is disabled: enable it to redeliver its events")
    return delivery_json(create_delivery(webhook.id, original.event, original.payload, redelivery_of=original.id))


@blueprint.post("/<int:webhook_id>/test")
@endpoint(summary=f"Send a {TEST_EVENT} event to the webhook (even a disabled one)", tags=["webhooks"],
          response=DeliveryOut, status=202, roles=MANAGERS, scope=SCOPE, errors=[404], enqueues=True)
def test_webhook(webhook_id: int):
    webhook = get_owned(Webhook, webhook_id, "webhook")
    data = {"webhookId": webhook.id, "message": "A test delivery from Wharf: your endpoint is reachable."}
    return delivery_json(create_delivery(webhook.id, TEST_EVENT, envelope(TEST_EVENT, webhook.company_id, data)))
