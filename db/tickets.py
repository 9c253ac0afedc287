"""Tickets (one conversation with a contact on a connection), their history and notes."""

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

import peewee

from db.base import BaseModel, JSONField, TimestampedModel, database, utcnow
from db.bulk import insert_models
from db.companies import Company
from db.connections import Connection
from db.contacts import Contact, CustomFieldDefinition, Tag, change_tag_links
from db.queue_rules import HasRules
from db.queues import Queue
from db.raw import Prepared, select_one
from db.sla import SlaPolicy, due_after
from db.users import User

TICKET_STATUSES = ("pending", "open", "closed")
PRIORITIES = ("low", "medium", "high", "urgent")  # `Ticket.priority` 1 to 4, so that it sorts; 0: none


def priority_name(rank: int) -> str | None:
    return PRIORITIES[rank - 1] if rank else None


def priority_rank(name: str | None) -> int:
    return PRIORITIES.index(name) + 1 if name else 0


class Ticket(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="tickets", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, backref="tickets", on_delete="CASCADE")
    connection = peewee.ForeignKeyField(Connection, null=True, backref="tickets", on_delete="SET NULL")
    queue = peewee.ForeignKeyField(Queue, null=True, backref="tickets", on_delete="SET NULL")
    user = peewee.ForeignKeyField(User, null=True, backref="tickets", on_delete="SET NULL")
    status = peewee.CharField(max_length=10, default="pending")
    priority = peewee.IntegerField(default=0)  # PRIORITIES' rank
    unread_messages = peewee.IntegerField(default=0)
    last_message = peewee.TextField(default="")
    last_message_at = peewee.DateTimeField(null=True)
    is_group = peewee.BooleanField(default=False)
    first_response_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)
    rating_requested_at = peewee.DateTimeField(null=True)  # the close asked the contact to rate the service
    rating = peewee.SmallIntegerField(null=True)  # 1 to 5 (workers/ratings.py)
    rated_at = peewee.DateTimeField(null=True)
    snoozed_at = peewee.DateTimeField(null=True)  # an open ticket out of the way until it wakes (`snooze`)
    snoozed_until = peewee.DateTimeField(null=True)  # None while snoozed: until the contact writes
    sla_policy = peewee.ForeignKeyField(SlaPolicy, null=True, on_delete="SET NULL")  # `apply_sla`
    first_response_due_at = peewee.DateTimeField(null=True, index=True)  # by its SLA policy, when it was applied
    resolution_due_at = peewee.DateTimeField(null=True, index=True)
    waiting_since = peewee.DateTimeField(null=True)  # the contact's first message since our last answer (workers/sla.py)
    next_response_due_at = peewee.DateTimeField(null=True, index=True)  # the answer to it, by its SLA policy
    custom_fields = JSONField(null=True)  # the conversation's own attributes (`TicketField`), as Chatwoot's

    def record(self, kind: str, user_id: int | None = None, **data) -> "TicketEvent":
        return TicketEvent.create(ticket=self, kind=kind, user=user_id, data=data)

    def take_last_message(self, preview: str, at: dt.datetime) -> None:
        """On this instance, what `last_message_assignments` does to its row."""
        if self.last_message_at is None or self.last_message_at <= at:
            self.last_message, self.last_message_at = preview, at

    def prioritise(self, by_user_id: int | None, priority: str | None) -> None:
        before = priority_name(self.priority)
        if priority == before:
            return
        self.priority, self.updated_at = priority_rank(priority), utcnow()
        self.save(only=[Ticket.priority, Ticket.updated_at])
        self.record("prioritised", by_user_id, **{"from": before, "to": priority})

    def snooze(self, by_user_id: int | None, until: dt.datetime | None) -> bool:
        """Out of the way (still open, still its agent's) until `until`, or, with None, until the contact writes;
        it wakes then (`wake`, `wake_on_contact_assignments`), or when it is accepted, transferred or closed.
        False for a ticket that is not open (closed meanwhile, say): a closed ticket is never snoozed."""
        now = utcnow()
        if not Ticket.update(snoozed_at=now, snoozed_until=until, updated_at=now).where(
                Ticket.id == self.id, Ticket.status == "open").execute():
            return False
        self.snoozed_at, self.snoozed_until, self.updated_at = now, until, now
        self.record("snoozed", by_user_id, until=until.isoformat(timespec="milliseconds") + "Z" if until else None)
        return True

    def end_snooze(self, by_user_id: int | None, reason: str) -> None:
        """A change that takes the ticket in hand wakes it: on this instance (the caller saves the snooze fields
        with its change) and in its history."""
        if self.snoozed_at is not None:
            record_woken([self], reason, by_user_id)

    def apply_sla(self, by_user_id: int | None, policy: SlaPolicy | None) -> None:
        """The policy's due times, counted from when the ticket opened (None: no SLA, no due times); a miss recorded
        before stays in the history."""
        if policy is None and self.sla_policy_id is None:
            return
        self.sla_policy = policy
        self.time_sla()
        self.save(only=[Ticket.sla_policy, *SLA_TIMES, Ticket.updated_at])
        self.record("sla_applied", by_user_id, policyId=policy.id if policy else None,
                    name=policy.name if policy else None)

    def sla_hours(self) -> tuple[HasRules | None, str]:
        """(the queue whose business hours its policy counts, with the company's timezone), or (None, "UTC") for
        calendar time: its policy counts every minute, or it is in no queue."""
        if self.sla_policy.business_hours_only and self.queue_id is not None:
            return self.queue, self.company.timezone
        return None, "UTC"

    def time_sla(self) -> None:
        """Its due times by its policy, in its queue's business hours when the policy counts only those (unsaved); a
        wait of the contact's with no next-response target is no longer one to time."""
        self.first_response_due_at = self.resolution_due_at = self.next_response_due_at = None
        if self.sla_policy_id is not None:
            policy, hours = self.sla_policy, self.sla_hours()
            self.first_response_due_at, self.resolution_due_at = policy.due_times(self.created_at, *hours)
            if self.waiting_since is not None:
                self.next_response_due_at = due_after(self.waiting_since, policy.next_response_minutes, *hours)
        if self.next_response_due_at is None:
            self.waiting_since = None
        self.updated_at = utcnow()

    def accept(self, user_id: int) -> None:
        """The agent takes the conversation: open and theirs."""
        self.end_snooze(user_id, "accepted")
        self.status, self.user, self.updated_at = "open", user_id, utcnow()
        self.save(only=[Ticket.status, Ticket.user, Ticket.updated_at, Ticket.snoozed_at, Ticket.snoozed_until])
        self.record("accepted", user_id)

    def transfer(self, by_user_id: int | None, queue_id: int | None, user_id: int | None) -> None:
        """To another queue (back to pending there) and/or straight to another agent (open, theirs)."""
        before = {"queueId": self.queue_id, "userId": self.user_id}
        self.end_snooze(by_user_id, "transferred")
        if queue_id is not None:
            self.queue = queue_id
        self.user = user_id
        self.status = "open" if user_id is not None else "pending"
        self.updated_at = utcnow()
        if before["queueId"] != self.queue_id and self.sla_policy_id and self.sla_policy.business_hours_only:
            self.time_sla()  # by the new queue's hours
        self.save(only=[Ticket.queue, Ticket.user, Ticket.status, Ticket.updated_at, Ticket.snoozed_at,
                        Ticket.snoozed_until, *SLA_TIMES])
        self.record("transferred", by_user_id, before=before, after={"queueId": self.queue_id, "userId": self.user_id})

    def close(self, user_id: int | None) -> "TicketEvent":
        """Closed, and so no longer snoozed: a reopened ticket never is. Returns the closing in its history."""
        self.end_snooze(user_id, "closed")
        self.status, self.closed_at, self.unread_messages, self.updated_at = "closed", utcnow(), 0, utcnow()
        self.save(only=[Ticket.status, Ticket.closed_at, Ticket.unread_messages, Ticket.updated_at, Ticket.snoozed_at,
                        Ticket.snoozed_until])
        return self.record("closed", user_id)

    def reopen(self, user_id: int) -> None:
        """Open again, for the agent who reopens it; IntegrityError when the contact has a live ticket."""
        with database.atomic():
            self.status, self.user, self.closed_at, self.updated_at = "open", user_id, None, utcnow()
            self.save(only=[Ticket.status, Ticket.user, Ticket.closed_at, Ticket.updated_at])
            self.record("reopened", user_id)

    class Meta:
        indexes = (
            (("company", "status", "updated_at"), False),
            (("company", "queue", "status"), False),
            (("company", "user", "status"), False),
            (("contact", "connection", "status"), False),
        )


# One live ticket per contact and connection: racing inbound messages cannot open two.
Ticket.add_index(Ticket.index(Ticket.contact, Ticket.connection, unique=True, where=(Ticket.status != "closed")))


def last_message_assignments(preview: str, at: str) -> str:
    """The SET assignments of an UPDATE "ticket" that make a message (`preview` and `at`, SQL expressions
    of its text and time) the ticket's last message, unless the ticket's is newer.

    Messages reach a ticket out of order (batches of one ticket commit in any order; an inbound message
    carries WhatsApp's time, a reply ours), so the last message only moves forward in time; one of the
    same time replaces it, as the later written. A CASE, not GREATEST: SQLite has none, and its MAX of a
    NULL (a ticket without messages) is NULL."""
    newer = f'("ticket"."last_message_at" IS NULL OR "ticket"."last_message_at" <= {at})'
    return (f'"last_message" = CASE WHEN {newer} THEN {preview} ELSE "ticket"."last_message" END, '
            f'"last_message_at" = CASE WHEN {newer} THEN {at} ELSE "ticket"."last_message_at" END')


def wake_on_contact_assignments(unread: str) -> str:
    """The SET assignments of an UPDATE "ticket" that wake a snoozed ticket when `unread` (an SQL expression of
    how many of its new messages are the contact's) is not 0: the contact wrote (or called), as Chatwoot's
    snooze "until the next reply". The caller records it (`record_woken`)."""
    return ", ".join(f'"{column}" = CASE WHEN {unread} > 0 THEN NULL ELSE "ticket"."{column}" END'
                     for column in ("snoozed_at", "snoozed_until"))


def wake(tickets: list[Ticket], reason: str, by_user_id: int | None = None) -> None:
    """The snoozed ones of `tickets` wake now (their time came, someone unsnoozed them), on their rows and these
    instances, recorded with the reason; two statements whatever their number. One that woke meanwhile (its
    contact wrote) is not woken twice."""
    now = utcnow()
    woke = {ticket_id for (ticket_id,) in Ticket.update(snoozed_at=None, snoozed_until=None, updated_at=now).where(
        Ticket.id.in_([ticket.id for ticket in tickets]), Ticket.snoozed_at.is_null(False)
    ).returning(Ticket.id).tuples().execute()}
    woken = [ticket for ticket in tickets if ticket.id in woke]
    for ticket in woken:
        ticket.updated_at = now
    record_woken(woken, reason, by_user_id)


# What `time_sla` sets
SLA_TIMES = (Ticket.first_response_due_at, Ticket.resolution_due_at, Ticket.waiting_since, Ticket.next_response_due_at)
SLA_DUE = {"first_response": Ticket.first_response_due_at, "next_response": Ticket.next_response_due_at,
           "resolution": Ticket.resolution_due_at}  # when each target of the ticket's SLA policy is due


def record_woken(tickets: list[Ticket], reason: str, by_user_id: int | None = None) -> None:
    """That the tickets woke, their rows changed by the caller's transaction: on these instances, and in their
    histories as `woke` with why (`time`, `contact`, `unsnoozed`, `accepted`, `transferred`, `closed`), in one
    statement."""
    for ticket in tickets:
        ticket.snoozed_at = ticket.snoozed_until = None
    insert_models([TicketEvent(ticket=ticket.id, kind="woke", user=by_user_id, data={"reason": reason})
                   for ticket in tickets])


class TicketTag(BaseModel):
    ticket = peewee.ForeignKeyField(Ticket, backref="tag_links", on_delete="CASCADE")
    tag = peewee.ForeignKeyField(Tag, backref="ticket_links", on_delete="CASCADE")

    class Meta:
        indexes = ((("ticket", "tag"), True),)


def ticket_tag_ids(ticket_id: int) -> set[int]:
    return {link.tag_id for link in TicketTag.select(TicketTag.tag).where(TicketTag.ticket == ticket_id)}


def change_ticket_tags(ticket_id: int, tag_ids: Collection[int], add: bool, by_user_id: int | None = None) -> None:
    """Add the tags to the ticket's, or take them off (`change_tag_links`), in its history as `tagged`."""
    before = ticket_tag_ids(ticket_id)
    change_tag_links(TicketTag, TicketTag.ticket, ticket_id, tag_ids, add)
    record_tagging(ticket_id, before, before | set(tag_ids) if add else before - set(tag_ids), by_user_id)


def set_ticket_tags(ticket_id: int, tag_ids: Collection[int], by_user_id: int | None = None) -> None:
    """The ticket's tags become `tag_ids`, in its history as `tagged`."""
    before = ticket_tag_ids(ticket_id)
    TicketTag.delete().where(TicketTag.ticket == ticket_id, TicketTag.tag.not_in(list(tag_ids))).execute()
    change_tag_links(TicketTag, TicketTag.ticket, ticket_id, tag_ids, add=True)
    record_tagging(ticket_id, before, set(tag_ids), by_user_id)


def record_tagging(ticket_id: int, before: set[int], after: set[int], by_user_id: int | None) -> None:
    """`tagged` {added, removed} (tag ids) in the ticket's history, when its tags changed."""
    if before != after:
        TicketEvent.create(ticket=ticket_id, kind="tagged", user=by_user_id,
                           data={"added": sorted(after - before), "removed": sorted(before - after)})


def set_ticket_fields(ticket: Ticket, fields: dict, by_user_id: int | None = None) -> None:
    """The ticket's custom fields become `fields`, in its history as `fields_changed` {before, after} (of the keys
    that changed), when they did."""
    before = ticket.custom_fields or {}
    changed = sorted(key for key in {*before, *fields} if before.get(key) != fields.get(key))
    if not changed:
        return
    Ticket.update(custom_fields=fields, updated_at=utcnow()).where(Ticket.id == ticket.id).execute()
    ticket.custom_fields = fields
    TicketEvent.create(ticket=ticket.id, kind="fields_changed", user=by_user_id,
                       data={"before": {key: before.get(key) for key in changed},
                             "after": {key: fields.get(key) for key in changed}})


def sees_ticket(ticket: Ticket, user: User) -> bool:
    """The user may see the ticket (`visible_to`)."""
    return Ticket.select().where(Ticket.id == ticket.id, visible_to(ticket.company_id, user.id, user.role)).exists()


class SlaMiss(BaseModel):
    """A due time of the ticket's SLA policy that passed unmet (db/sla.py): once per ticket and kind, and for the next
    response once per wait (its due time)."""

    ticket = peewee.ForeignKeyField(Ticket, backref="sla_misses", on_delete="CASCADE")
    kind = peewee.CharField(max_length=20)  # SLA_KINDS
    due_at = peewee.DateTimeField()
    missed_at = peewee.DateTimeField(default=utcnow)  # when the scheduler found it
    rules_pending = peewee.BooleanField(default=False, index=True)  # its `sla_missed` automation rules to run

    class Meta:
        table_name = "sla_miss"
        indexes = ((("ticket", "kind", "due_at"), True),)


class TicketField(CustomFieldDefinition):
    """A custom field of the company's tickets (Chatwoot's conversation attributes: an order number, a reason...)."""

    company = peewee.ForeignKeyField(Company, backref="ticket_fields", on_delete="CASCADE")

    class Meta:
        table_name = "ticket_field"
        indexes = ((("company", "key"), True),)


class SlaWait(BaseModel):
    """A contact's wait for our answer that ended (answered, or the ticket closed) on a ticket whose policy had a
    next-response target, with when its answer was due, last: what the analytics count as due (a wait still going
    is the ticket's `waiting_since`). Written by the scheduler's `track_waits` once the wait is over."""

    ticket = peewee.ForeignKeyField(Ticket, backref="sla_waits", on_delete="CASCADE")
    since = peewee.DateTimeField()
    due_at = peewee.DateTimeField(index=True)

    class Meta:
        table_name = "sla_wait"
        indexes = ((("ticket", "since"), True),)


class TicketEvent(BaseModel):
    """One line of a ticket's history: created, accepted, transferred, closed, reopened..."""

    ticket = peewee.ForeignKeyField(Ticket, backref="events", on_delete="CASCADE")
    kind = peewee.CharField(max_length=30)
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    data = JSONField(default=dict)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ticket", "created_at"), False),)


class TicketNote(BaseModel):
    ticket = peewee.ForeignKeyField(Ticket, backref="notes", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")
    body = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)


ROLES_SEEING_ALL_TICKETS = ("super", "admin", "supervisor")


def visible_to(company_id: int, user_id: int, role: str) -> peewee.Expression:
    """The tickets a user may see: all of the company's for admins and supervisors; for an agent,
    those of their queues, their own, and the pending ones no queue took yet (unless the company's
    `agents_see_unqueued_tickets` is off)."""
    from db.company_settings import company_setting  # it imports the models this module's depend on
    from db.queues import UserQueue

    of_company = Ticket.company == company_id
    if role in ROLES_SEEING_ALL_TICKETS:
        return of_company
    my_queues = UserQueue.select(UserQueue.queue).where(UserQueue.user == user_id)
    mine = (Ticket.user == user_id) | Ticket.queue.in_(my_queues)
    if company_setting(company_id, "agents_see_unqueued_tickets"):
        mine |= Ticket.queue.is_null() & (Ticket.status == "pending")
    return of_company & mine


def live_tickets(contact_id: int, connection_id: int | None) -> peewee.ModelSelect:
    """The contact's live (pending or open) ticket on the connection: one at most (a partial unique index)."""
    return Ticket.select().where(Ticket.contact == contact_id, Ticket.connection == connection_id,
                                 Ticket.status != "closed")


def find_or_open_ticket(contact: Contact, connection: Connection | None, is_group: bool = False) -> tuple[Ticket, bool]:
    """The contact's live (pending or open) ticket on this connection, or a new pending one.

    Returns (ticket, created). A partial unique index allows one live ticket per contact and
    connection, so two messages racing for a new contact end up in the same ticket.
    """
    live = live_tickets(contact.id, connection.id if connection else None)
    ticket = live.first()
    if ticket is not None:
        return ticket, False
    try:
        with database.atomic():
            ticket = Ticket.create(
                company=contact.company_id,
                contact=contact,
                connection=connection,
                queue=connection.default_queue_id if connection else None,
                is_group=is_group,
            )
            ticket.record("created", reason="inbound")
    except peewee.IntegrityError:
        return live.get(), False
    return ticket, True


def find_or_open_tickets(connection: Connection, contacts: list[Contact]) -> tuple[dict[int, int], set[int]]:
    """`find_or_open_ticket` for many contacts in a few statements (an inbound batch): ({contact id:
    live ticket id} on the connection, ids of the tickets opened here for those with none).

    One live ticket per contact and connection (a partial unique index): a ticket that another
    transaction opened first wins, and this one takes it."""

    def find(ids: list[int]) -> dict[int, int]:
        rows = Ticket.select(Ticket.contact, Ticket.id).where(
            Ticket.connection == connection.id, Ticket.contact.in_(ids), Ticket.status != "closed")
        return {contact_id: ticket_id for contact_id, ticket_id in rows.tuples()}

    found = find([c.id for c in contacts])
    missing = sorted((c for c in contacts if c.id not in found), key=lambda c: c.id)
    opened = [Ticket(company=c.company_id, contact=c.id, connection=connection.id, queue=connection.default_queue_id,
                     is_group=c.is_group) for c in missing]
    created = {contact_id: ticket_id for ticket_id, contact_id in
               insert_models(opened, 'ON CONFLICT DO NOTHING RETURNING "id", "contact_id"', returning=True)}
    insert_models([TicketEvent(ticket=ticket_id, kind="created", data={"reason": "inbound"})
                   for ticket_id in created.values()])
    raced = [c.id for c in missing if c.id not in created]
    return found | created | (find(raced) if raced else {}), set(created.values())


@dataclass(frozen=True)
class Conversation:
    """Where a send to a phone goes: a connection, the phone's contact and its live ticket on that
    connection (None for a phone or a ticket not seen yet)."""

    connection_id: int
    contact_id: int | None
    ticket: Ticket | None
    contact_blocked: bool = False


# The company's connection (the one named, else its default) with the phone's contact and live ticket
# on it. The partial unique index on live tickets makes the joins give at most one row per connection.
# Prepared: PostgreSQL took five times longer to plan it than to run it.
_TICKET_COLUMNS = ", ".join(f't."{field.column_name}"' for field in Ticket._meta.sorted_fields)
_CONVERSATION = Prepared("find_conversation", f"""
SELECT {_TICKET_COLUMNS}, k.id AS picked_connection_id, c.id AS phone_contact_id, c.blocked AS phone_contact_blocked
FROM "connection" AS k
LEFT JOIN "contact" AS c ON c.company_id = k.company_id AND c.phone = %s
LEFT JOIN "ticket" AS t ON t.contact_id = c.id AND t.connection_id = k.id AND t.status <> 'closed'
WHERE k.company_id = %s AND (%s IS NULL OR k.id = %s)
ORDER BY k.is_default DESC, k.id
LIMIT 1
""", ("text", "bigint", "bigint", "bigint"))  # bigint: a client's id past INTEGER finds nothing


def find_conversation(company_id: int, phone: str, connection_id: int | None = None) -> Conversation | None:
    """The conversation a send to `phone` joins, read in one statement (the hot path of `POST /api/messages`);
    None when the company has no such connection."""
    row = select_one(Ticket, _CONVERSATION, phone, company_id, connection_id, connection_id)
    if row is None:
        return None
    return Conversation(row.picked_connection_id, row.phone_contact_id, row if row.id is not None else None,
                        bool(row.phone_contact_blocked))
