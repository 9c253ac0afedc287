"""Messages in and out, and the quick replies agents insert into them."""

from collections.abc import Iterable

import peewee

from db.base import BaseModel, JSONField, TimestampedModel, holds
from db.companies import Company
from db.connections import Connection
from db.contacts import Contact
from db.flows import FlowSession
from db.tickets import Ticket
from db.users import User

DELETED_PREVIEW = "🚫 This message was deleted"  # as WhatsApp's chat list shows it
OUR_REACTOR = "me"  # who reacted, when it was the connection's own number (an agent, or the phone)

MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed")
# "unsupported": a kind WhatsApp shows that Wharf does not (a product, an event...), its body saying what it was
MESSAGE_TYPES = ("text", "image", "audio", "video", "document", "sticker", "location", "contact", "poll", "call",
                 "unsupported")


class Message(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="messages", on_delete="CASCADE")
    ticket = peewee.ForeignKeyField(Ticket, null=True, backref="messages", on_delete="CASCADE")
    connection = peewee.ForeignKeyField(Connection, null=True, backref="messages", on_delete="SET NULL")
    contact = peewee.ForeignKeyField(Contact, null=True, backref="messages", on_delete="SET NULL")
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    direction = peewee.CharField(max_length=3)  # in | out
    type = peewee.CharField(max_length=12, default="text")
    body = peewee.TextField(default="")
    media_path = peewee.TextField(null=True)
    media_mimetype = peewee.CharField(max_length=100, null=True)
    media_name = peewee.CharField(max_length=255, null=True)
    # A shared place, contact card or poll, as sent again after a crash (the body is its text, or its vCard)
    location = JSONField(null=True)  # {latitude, longitude, name, address}
    contact_card = JSONField(null=True)  # {name, phone}
    poll = JSONField(null=True)  # {name, options, selectable_count}; its votes are PollVote rows
    status = peewee.CharField(max_length=10, default="queued")
    error = peewee.TextField(null=True)
    wa_id = peewee.CharField(max_length=128, null=True)
    idempotency_key = peewee.CharField(max_length=255, null=True)
    quoted_message = peewee.ForeignKeyField("self", null=True, on_delete="SET NULL")
    forwarded = peewee.BooleanField(default=False)  # WhatsApp shows it as forwarded (ours, or as the contact sent it)
    private = peewee.BooleanField(default=False)
    flow_session = peewee.ForeignKeyField(FlowSession, null=True, on_delete="SET NULL")  # the bot's that wrote it
    sending_at = peewee.DateTimeField(null=True)  # the gateway's first attempt (workers/messages.py)
    sent_at = peewee.DateTimeField(null=True)
    delivered_at = peewee.DateTimeField(null=True)
    read_at = peewee.DateTimeField(null=True)
    deleted_at = peewee.DateTimeField(null=True)  # deleted for everyone (api/resources/messages.py)
    edited_at = peewee.DateTimeField(null=True)  # its text was last edited (workers/message_changes.py)
    ack_overdue = peewee.BooleanField(default=False)  # sent, and no receipt came in time (workers/watchdogs.py)
    # Who in a group wrote it (an inbound message of a group only): the member's phone in E.164, or WhatsApp's id of
    # a member whose number it hides (…@lid), and the name they gave WhatsApp (push name)
    sender_phone = peewee.CharField(max_length=128, null=True)
    sender_name = peewee.TextField(null=True)

    @property
    def sender(self) -> dict | None:
        """Who in the group wrote it, as the API and events show it: `{phone, name}`; None for any other message."""
        return {"phone": self.sender_phone, "name": self.sender_name} if self.sender_phone else None

    def preview(self) -> str:
        """What a ticket shows of it as its last message: a shared place or card by its name, not its vCard."""
        if self.deleted_at is not None:
            return DELETED_PREVIEW
        if self.contact_card:
            return f"👤 {self.contact_card['name']}"
        if self.poll:
            return f"📊 {self.poll['name']}"
        if self.location:
            place = self.location.get("name") or self.location.get("address")
            return f"📍 {place or '{latitude},{longitude}'.format(**self.location)}"
        return self.body or f"[{self.type}]"

    class Meta:
        indexes = (
            (("connection", "wa_id"), True),
            (("company", "idempotency_key"), True),
            (("ticket", "created_at"), False),
            (("company", "status"), False),
        )


SHORTEST_SEARCH = 3  # a trigram index narrows a search only by the three-letter groups of its text


def saying(text: str) -> peewee.Expression:
    """The messages whose text holds `text`, ignoring case and accents, its `%`, `_` and `\\` taken literally
    (`db.base.holds`). A message deleted for everyone is not found by the text it had: the chat no longer shows it.
    An edited one is found by its latest text, the only one kept. On PostgreSQL the trigram index of migration 037
    serves it, where the server has pg_trgm."""
    return holds(text, Message.body) & Message.deleted_at.is_null()


def contact_wrote_first() -> peewee.Expression:
    """The ticket's conversation began with the contact's message: only then has it a first response to time (one our
    side began has none)."""
    first = Message.select(Message.direction).where(Message.ticket == Ticket.id).order_by(
        Message.created_at, Message.id).limit(1)
    return first == "in"


def is_agent_answer(message: type[Message]) -> peewee.Expression:
    """An agent's message that went out (`message`: Message or an alias of it): what SLA targets and reply times count
    as an answer (a bot's, a campaign's, a flow's or a program's are none)."""
    return (message.direction == "out") & message.user.is_null(False) & message.sent_at.is_null(False)


def last_answer(ticket: peewee.Node, before: peewee.Node | None = None) -> peewee.ModelSelect:
    """When the ticket's (`ticket`: its id, in the outer query) last agent answer went out (before `before`), as a
    subquery; NULL for none."""
    answer = Message.alias()
    query = answer.select(peewee.fn.MAX(answer.sent_at)).where(answer.ticket == ticket, is_agent_answer(answer))
    return query.where(answer.sent_at < before) if before is not None else query


def first_asked(ticket: peewee.Node, after: peewee.Node, before: peewee.Node | None = None) -> peewee.ModelSelect:
    """When the contact first wrote in the ticket after `after` (NULL: from the start), and before `before`, as a
    subquery: the start of their wait for an answer."""
    asked = Message.alias()
    query = asked.select(peewee.fn.MIN(asked.created_at)).where(
        asked.ticket == ticket, asked.direction == "in", peewee.Expression(after, "IS", None) | (asked.created_at > after))
    return query.where(asked.created_at < before) if before is not None else query


def newest_by_ticket(messages: Iterable[Message]) -> dict[int, Message]:
    """{ticket id: its newest of `messages`} by `created_at` (WhatsApp's time for an inbound message: neither
    ids nor a batch's order follow it); of two of the same time, the later in `messages`."""
    newest: dict[int, Message] = {}
    for message in messages:
        if message.ticket_id not in newest or message.created_at >= newest[message.ticket_id].created_at:
            newest[message.ticket_id] = message
    return newest


class MessageReaction(BaseModel):
    """A person's reaction to a message, as WhatsApp keeps it: one per person and message, replaced by their
    next. A removed one stays, with no emoji, so that an older reaction delivered late does not come back."""

    message = peewee.ForeignKeyField(Message, on_delete="CASCADE")
    reactor = peewee.CharField(max_length=128)  # the contact's phone, a group member's, or OUR_REACTOR
    emoji = peewee.CharField(max_length=32)  # "" once removed
    at = peewee.DateTimeField()  # when the reaction was made

    class Meta:
        table_name = "message_reaction"
        indexes = ((("message", "reactor"), True),)


class PollVote(BaseModel):
    """A person's vote on a poll, as WhatsApp keeps it: one per person and poll, replaced by their next. A withdrawn
    one stays, with no options, so that an older vote delivered late does not come back."""

    message = peewee.ForeignKeyField(Message, on_delete="CASCADE")
    voter = peewee.CharField(max_length=128)  # as MessageReaction.reactor
    options = JSONField()  # the options chosen, by their text, in the poll's order; [] once withdrawn
    at = peewee.DateTimeField()  # when the vote was cast

    class Meta:
        table_name = "poll_vote"
        indexes = ((("message", "voter"), True),)


def polls_shown(messages: Iterable[Message]) -> dict[int, dict]:
    """{message id: its poll as the API shows it, `{name, selectableCount, options: [{name, votes, voters}]}`} for the
    messages that are polls, their votes read in one query (none when none is a poll)."""
    polls = {message.id: message.poll for message in messages if message.poll}
    voters: dict[int, dict[str, list[str]]] = {message_id: {} for message_id in polls}
    if polls:
        for vote in PollVote.select().where(PollVote.message.in_(list(polls))).order_by(PollVote.at, PollVote.id):
            for option in vote.options:
                voters[vote.message_id].setdefault(option, []).append(vote.voter)
    return {message_id: {
        "name": poll["name"], "selectableCount": poll["selectable_count"],
        "options": [{"name": option, "votes": len(voters[message_id].get(option, [])),
                     "voters": voters[message_id].get(option, [])} for option in poll["options"]],
    } for message_id, poll in polls.items()}


class QuickMessage(TimestampedModel):
    """A shortcut an agent types for a canned text, with a file to send along, if any; personal when `user` is set."""

    company = peewee.ForeignKeyField(Company, backref="quick_messages", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE")
    shortcut = peewee.CharField(max_length=50)
    body = peewee.TextField()
    media_path = peewee.TextField(null=True)  # a key of the media store, as a message's
    media_mimetype = peewee.CharField(max_length=100, null=True)
    media_name = peewee.CharField(max_length=255, null=True)

    class Meta:
        indexes = ((("company", "shortcut"), False),)


class PendingFollowUp(BaseModel):
    """An inbound message whose events and follow-up (greeting, menu, bot) have not run yet, for as long
    as that takes: a redelivery after a crash finishes them (workers/inbound.py). A narrow table of its
    own, so that clearing the mark does not rewrite the message row and every index of it."""

    message = peewee.ForeignKeyField(Message, primary_key=True, on_delete="CASCADE")
    announced = peewee.BooleanField(default=False)  # its events went out: the retry of a failed follow-up skips them

    class Meta:
        table_name = "pending_follow_up"


def announced(message_ids: list[int]) -> None:
    """The pending messages' events went out; only their follow-up is left."""
    PendingFollowUp.update(announced=True).where(PendingFollowUp.message.in_(message_ids)).execute()


def followed_up(message_ids: list[int]) -> None:
    """The inbound messages' follow-up is done: a redelivery of them does nothing more."""
    if message_ids:
        PendingFollowUp.delete().where(PendingFollowUp.message.in_(message_ids)).execute()
