"""Webhook subscriptions of a company, and the log of every delivery made to them."""

import peewee

from db.base import BaseModel, JSONField, TimestampedModel, utcnow
from db.companies import Company


class Webhook(TimestampedModel):
    """A URL that receives the company's events, signed with `secret` (workers/webhooks.py)."""

    company = peewee.ForeignKeyField(Company, backref="webhooks", on_delete="CASCADE")
    url = peewee.CharField(max_length=2048)
    events = JSONField(default=list)  # event names ("message:new"), families ("ticket:*") or "*"
    connection_ids = JSONField(null=True)  # only the events of these numbers; null: every event of the company
    secret = peewee.CharField(max_length=128)
    enabled = peewee.BooleanField(default=True)
    description = peewee.CharField(max_length=500, default="")


class WebhookDelivery(BaseModel):
    """One event for one webhook: pending while attempts go on, then delivered or failed.

    The row is written before the first attempt; each attempt updates the `last_*` fields.
    A redelivery is a new row pointing at the one it repeats.
    """

    webhook = peewee.ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE", index=False)
    event = peewee.CharField(max_length=60)
    payload = JSONField()  # the envelope without its deliveryId: {event, companyId, data, timestamp}
    status = peewee.CharField(max_length=10, default="pending")  # pending | delivered | failed
    attempts = peewee.IntegerField(default=0)
    last_status_code = peewee.IntegerField(null=True)
    last_error = peewee.TextField(null=True)
    response_excerpt = peewee.TextField(null=True)
    duration_ms = peewee.IntegerField(null=True)
    redelivery_of = peewee.ForeignKeyField("self", null=True, on_delete="SET NULL", index=False)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    last_attempt_at = peewee.DateTimeField(null=True)
    delivered_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "webhook_delivery"
        # The delivery log lists one webhook's rows newest first, all of them or one status.
        indexes = ((("webhook", "id"), False), (("webhook", "status", "id"), False))
