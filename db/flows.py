"""Conversational flows (chatbots): the editable draft, its frozen versions, the sessions running them.

A `Flow` is a draft (its `definition`: trigger, nodes, edges) that can be edited at any time;
publishing freezes a copy as the next `FlowVersion`, and every session runs the version it
started on to its end, whatever is published after. One live session per ticket (a partial
unique index), so racing inbound messages cannot start two bots on one conversation.

Each executed step is a `FlowStep` row, written in the same transaction as the step's effects
(the messages it queued, the tags it changed) and the session's new position: a worker that
dies mid-step leaves either all of it or none, so the step runs once.
"""

from __future__ import annotations

import peewee

from db.base import BaseModel, JSONField, TimestampedModel, utcnow
from db.companies import Company
from db.connections import Connection
from db.contacts import Contact
from db.opt_outs import is_opted_out
from db.tickets import Ticket
from db.users import User

SESSION_STATUSES = ("running", "waiting", "ended")
LIVE_STATUSES = ("running", "waiting")
WAIT_KINDS = ("input", "delay")
# Why a session ends when the bot did not end it itself: someone took the conversation from it, or stopped it.
LET_GO_REASONS = ("agent_took_over", "ticket_closed", "opted_out", "stopped", "flow_deleted")


class Flow(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="flows", on_delete="CASCADE")
    name = peewee.CharField(max_length=200)
    definition = JSONField(default=dict)  # {"trigger": {...}, "nodes": [...], "edges": [...]}
    trigger_type = peewee.CharField(
        max_length=20, default="api"
    )  # of the published version, for trigger lookups
    published_version = peewee.IntegerField(null=True)
    active = peewee.BooleanField(default=True)  # an inactive flow's trigger starts nothing

    class Meta:
        indexes = ((("company", "trigger_type", "active"), False),)


class FlowVersion(BaseModel):
    flow = peewee.ForeignKeyField(Flow, backref="versions", on_delete="CASCADE")
    version = peewee.IntegerField()
    definition = JSONField()
    published_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    published_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("flow", "version"), True),)


class FlowSession(TimestampedModel):
    """One run of a flow version with one contact on one ticket.

    `status` is running (an actor is stepping it, or is about to), waiting (for the contact's answer
    or a delay, until `wait_until` when set) or ended (`end_reason` says why). `pending_event` is
    what woke a waiting session (the answer, or a timeout) until the next step consumes it. A message
    the contact sends while the bot is busy is read when the bot next waits for an answer: every
    inbound message of the ticket after `last_input_id` is still unread.
    """

    company = peewee.ForeignKeyField(Company, backref="flow_sessions", on_delete="CASCADE")
    flow = peewee.ForeignKeyField(Flow, backref="sessions", on_delete="CASCADE")
    version = peewee.ForeignKeyField(FlowVersion, backref="sessions", on_delete="CASCADE")
    ticket = peewee.ForeignKeyField(Ticket, backref="flow_sessions", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
    connection = peewee.ForeignKeyField(Connection, null=True, on_delete="SET NULL")
    trigger = peewee.CharField(max_length=20)
    status = peewee.CharField(max_length=10, default="running")
    node = peewee.CharField(max_length=100, null=True)  # the node the next step runs
    variables = JSONField(default=dict)
    waiting = peewee.CharField(max_length=10, null=True)  # input | delay
    wait_until = peewee.DateTimeField(null=True)
    retries = peewee.IntegerField(default=0)
    pending_event = JSONField(null=True)
    step_seq = peewee.IntegerField(default=0)  # steps done
    steps_since_input = peewee.IntegerField(default=0)
    last_input_id = peewee.IntegerField(default=0)  # the contact's last message the bot has read (or skipped)
    end_reason = peewee.CharField(max_length=30, null=True)
    ended_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("company", "status", "created_at"), False),
            (("status", "wait_until"), False),
            (("flow", "status"), False),
        )


FlowSession.add_index(
    FlowSession.index(FlowSession.ticket, unique=True, where=(FlowSession.status.in_(LIVE_STATUSES)))
)


def why_the_bot_lets_go(ticket: Ticket, contact: Contact) -> str | None:
    """Why the bot must leave the conversation now (None: it carries on)."""
    if ticket.status == "closed":
        return "ticket_closed"
    if ticket.user_id is not None:
        return "agent_took_over"
    if is_opted_out(contact):
        return "opted_out"
    return None


def why_withdrawn(session: FlowSession, ticket: Ticket, contact: Contact) -> str | None:
    """Why a message the session's bot wrote, not sent yet (its "typing…" not over, the session down), must not go:
    the bot was let go of, or stopped, since (a message it wrote before it ended by itself, a hand-over's "passing you
    to our team", still goes, but not to a contact who opted out)."""
    if session.status != "ended":
        return why_the_bot_lets_go(ticket, contact)
    if session.end_reason in LET_GO_REASONS:
        return session.end_reason
    return "opted_out" if is_opted_out(contact) else None


class FlowStep(BaseModel):
    """The log of a session: step `seq` ran `node` on `event` and did `effects` (messages, tags, branch)."""

    session = peewee.ForeignKeyField(FlowSession, backref="steps", on_delete="CASCADE")
    seq = peewee.IntegerField()
    node = peewee.CharField(max_length=100)
    node_type = peewee.CharField(max_length=20)
    event = JSONField(null=True)
    effects = JSONField(default=list)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("session", "seq"), True),)
