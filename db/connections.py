"""WhatsApp connections (one number each) and the transport that carries them."""

import peewee

from db.base import JSONField, TimestampedModel
from db.companies import Company
from db.queues import Queue

TRANSPORTS = ("simulator", "neonize")
CONNECTION_STATUSES = ("stopped", "starting", "qr", "connected", "disconnected", "logged_out")


class Connection(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="connections", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)
    transport = peewee.CharField(max_length=20, default="simulator")
    status = peewee.CharField(max_length=20, default="stopped", index=True)
    phone = peewee.CharField(max_length=32, null=True)
    is_default = peewee.BooleanField(default=False)
    default_queue = peewee.ForeignKeyField(Queue, null=True, on_delete="SET NULL")
    greeting_message = peewee.TextField(default="")
    ignore_groups = peewee.BooleanField(default=False)  # its groups' messages are dropped (Evolution's groupsIgnore)
    read_messages = peewee.BooleanField(default=False)  # contacts' messages shown read at once (Evolution's readMessages)
    always_online = peewee.BooleanField(default=False)  # shows "online" while its session is up (Evolution's alwaysOnline)
    farewell_message = peewee.TextField(default="")
    last_seen_at = peewee.DateTimeField(null=True)
    # What the operator asked for; the gateway makes the session match it.
    enabled = peewee.BooleanField(default=False, index=True)
    logout_requested = peewee.BooleanField(default=False)
    pair_phone = peewee.CharField(max_length=32, null=True)  # pair-code login instead of a QR
    reconnects = peewee.IntegerField(default=0)
    last_error = peewee.TextField(null=True)
    # Number safety (workers/number_limits.py): overrides of the default send limits, and the warm-up's day 1.
    send_limits = JSONField(null=True)
    first_sent_at = peewee.DateTimeField(null=True)
    # The scheduler's health check (workers/watchdogs.py): what is wrong, since when; a reconnect it asks for.
    flagged_reason = peewee.TextField(null=True)
    flagged_at = peewee.DateTimeField(null=True)
    reconnect_requested = peewee.BooleanField(default=False)
    # The number's own WhatsApp profile as asked for (workers/own_profile.py applies it): None, never set through Wharf;
    # its picture a square JPEG in the media store (None: none), with WhatsApp's id of it once shown.
    profile_name = peewee.CharField(max_length=25, null=True)
    profile_about = peewee.CharField(max_length=139, null=True)
    profile_picture_path = peewee.TextField(null=True)
    profile_picture_id = peewee.CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("company", "name"), True),)
