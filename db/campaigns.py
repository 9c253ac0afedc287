"""Campaigns and their ledger: one `CampaignShipping` row per recipient and run (a cron campaign runs again and
again), the single truth of who was sent what.

A campaign's pump claims `queued` rows and links each to the Message it writes in the same
transaction, so no recipient is sent twice whatever crashes. `pump_seq` numbers the pump's ticks:
a tick runs only when it moves the number on, so a redelivered or stale pump message does nothing.
"""

from __future__ import annotations

import peewee

from db.base import JSONField, TimestampedModel
from db.companies import Company
from db.connections import Connection
from db.contact_lists import ContactList
from db.contacts import Contact, Tag
from db.messages import Message

CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "paused", "completed", "cancelled", "failed")
SHIPPING_STATUSES = ("queued", "sent", "delivered", "read", "failed", "skipped", "cancelled")
MAX_VARIANTS = 5
DEFAULT_THROTTLE = {"perMinute": 20, "jitterSeconds": 0, "pauseEvery": 0, "pauseSeconds": 0}
MAX_PAUSE_EVERY = 1_000_000  # the most sends a throttle lets pass between long pauses: past any real audience


class Campaign(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="campaigns", on_delete="CASCADE")
    name = peewee.CharField(max_length=200)
    connection = peewee.ForeignKeyField(Connection, null=True, on_delete="SET NULL")
    connection_ids = JSONField(null=True)  # a rotation over several numbers, instead of `connection` alone
    # The audience: every contact of the list, of the tag, and the ids given (any of them), of those whose contact
    # field `audience_field` {key, values} holds one of its values, when it is set (alone: any contact whose does).
    contact_list = peewee.ForeignKeyField(ContactList, null=True, on_delete="SET NULL")
    tag = peewee.ForeignKeyField(Tag, null=True, on_delete="SET NULL")
    contact_ids = JSONField(null=True)
    audience_field = JSONField(null=True)
    messages = JSONField(default=list)  # up to MAX_VARIANTS texts, one picked at random per recipient
    media_url = peewee.TextField(null=True)
    voice_note = peewee.BooleanField(default=False)  # the media URL's audio goes as a voice note, with no text
    poll = JSONField(null=True)  # a poll each recipient votes on, instead of a text: {name, options, selectable_count}
    scheduled_at = peewee.DateTimeField(null=True)
    cron = peewee.CharField(max_length=100, null=True)
    timezone = peewee.CharField(max_length=64, default="UTC")
    throttle = JSONField(default=dict)
    status = peewee.CharField(max_length=10, default="draft")
    reason = peewee.TextField(null=True)
    pump_seq = peewee.IntegerField(default=0)
    run = peewee.IntegerField(default=1)  # the current run: a cron campaign's next one sends to the audience again
    dispatched = peewee.IntegerField(default=0)  # recipients of the run handed to the pipeline, for "pause every N"
    next_pump_at = peewee.DateTimeField(null=True)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("company", "created_at"), False), (("status", "scheduled_at"), False))

    def pacing(self) -> dict:
        return {**DEFAULT_THROTTLE, **(self.throttle or {})}


def rotation_of(campaign: Campaign) -> list[int]:
    """The campaign's numbers: its rotation, else its one connection."""
    return list(campaign.connection_ids or ()) or ([campaign.connection_id] if campaign.connection_id else [])


class CampaignShipping(TimestampedModel):
    campaign = peewee.ForeignKeyField(Campaign, backref="shippings", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
    message = peewee.ForeignKeyField(Message, null=True, on_delete="SET NULL")
    status = peewee.CharField(max_length=10, default="queued")
    reason = peewee.CharField(max_length=100, null=True)
    variant = peewee.SmallIntegerField(null=True)
    sent_at = peewee.DateTimeField(null=True)
    run = peewee.IntegerField(default=1)

    class Meta:
        indexes = ((("campaign", "run", "contact"), True), (("campaign", "status", "id"), False))
