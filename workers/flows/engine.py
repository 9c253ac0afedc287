"""Running flow sessions: started by a trigger or the API, stepped by an actor, woken by the contact or a timeout.

`advance_flow_session(session_id)` runs the session's steps until it waits or ends. Each step is
one transaction that locks the session row, runs the node (`interpreter.run_step`) with effects
that write rows (outbound messages through `write_outbound`, tags, the ticket), logs the step in
`FlowStep` and saves the new position; the messages are handed to the gateway after the commit
(`dispatch_outbound`, and `requeue_lost_jobs` if a crash comes in between). So a redelivered or
duplicate actor message finds the step done and runs the next one: no step runs twice, no message
is sent twice. HTTP and AI calls are made before the transaction (they may take seconds); a
worker that dies between such a call and its commit makes the call again, never the message.

Before every step the bot lets go of a ticket an agent accepted, a closed ticket and an opted-out
contact; `MAX_STEPS_PER_INPUT` steps without a word from the contact end the session (a loop).
A waiting session resumes on the contact's next message (`hand_to_flow`, from `handle_inbound`)
or, past `wait_until`, on the scheduler's `resume_due_sessions`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import dramatiq
import peewee
from dramatiq.common import current_millis

from api.contact_json import contact_json
from api.ticket_json import announce_note, ticket_out
from db.base import database, locked, utcnow
from db.campaigns import CampaignShipping
from db.companies import Company
from db.contacts import (
    Contact,
    ContactField,
    ContactTag,
    CustomFieldDefinition,
    Tag,
    change_contact_tags,
    field_types,
)
from db.flows import LIVE_STATUSES, Flow, FlowSession, FlowStep, FlowVersion, why_the_bot_lets_go
from db.messages import Message, PollVote, QuickMessage
from db.opt_outs import is_opted_out
from db.queue_rules import is_open
from db.queues import Queue
from db.tickets import Ticket, TicketField, TicketNote, set_ticket_fields
from wharf.custom_fields import parse_text, without_removed
from wharf.patterns import found_in
from wharf.redis_client import redis_client
from workers.assignment import transfer
from workers.closing import close_ticket
from workers.csv_import import normal_email
from workers.events import Announcements, announcing
from workers.flows.ai_reply import DEFAULT_HISTORY_WINDOW, generate_ai_reply
from workers.flows.definition import entry_node, menu_options
from workers.flows.http_request import perform_http_request
from workers.flows.interpreter import Attachment, ExternalOutcome, FlowState, run_step
from workers.messages import Outbound, dispatch_outbound, media_options, quick_message_media, write_outbound
from workers.templating import standard_variables
from workers.transports.base import Poll

logger = logging.getLogger(__name__)

MAX_STEPS_PER_INPUT = 50
STALLED_AFTER = dt.timedelta(seconds=60)
RESUME_BATCH = 500
CAMPAIGN_REPLY_HOURS = 72
TRIGGER_ORDER = ("keyword", "regex", "campaign_reply", "new_ticket")


def version_definition(version_id: int) -> dict:
    return FlowVersion.get_by_id(version_id).definition


def session_event(session: FlowSession) -> dict:
    return {
        "id": session.id,
        "flowId": session.flow_id,
        "versionId": session.version_id,
        "ticketId": session.ticket_id,
        "contactId": session.contact_id,
        "trigger": session.trigger,
        "status": session.status,
        "node": session.node,
        "endReason": session.end_reason,
    }


def announce_session(announcements: Announcements, event: str, session: FlowSession) -> None:
    """Inside the transaction that started or ended the session: its event's webhooks commit with it."""
    ticket = Ticket.get_or_none(Ticket.id == session.ticket_id)
    announcements.add(event, session.company_id, session_event(session), ticket=ticket)


class ContactLookups:
    """What a condition or a message node reads about the contact and the company (never writes)."""

    def __init__(self, company: Company, contact: Contact | None) -> None:
        self.company, self.contact, self.country = company, contact, company.default_country

    def quick_message(self, quick_message_id: int) -> tuple[str, bool] | None:
        quick = QuickMessage.get_or_none(
            QuickMessage.id == quick_message_id, QuickMessage.company == self.company.id
        )
        return (quick.body, quick.media_path is not None) if quick else None

    def has_tag(self, name: str) -> bool:
        if self.contact is None:
            return False
        return (
            ContactTag.select()
            .join(Tag)
            .where(ContactTag.contact == self.contact.id, peewee.fn.LOWER(Tag.name) == name.strip().lower())
            .exists()
        )

    def contact_field(self, key: str) -> Any:
        if self.contact is None:
            return None
        if key in ("name", "phone", "email"):
            return getattr(self.contact, key)
        return (self.contact.custom_fields or {}).get(key)

    def contact_changes(self, field: str, value: str) -> dict[peewee.Field, Any]:
        """What the contact's row takes for `value` as its `field` (name, email or a contact field's key), checked as
        the API checks it; a ValueError saying why not. An empty value takes a contact field's away."""
        text = value.strip()
        if field == "name":
            if not 1 <= len(text) <= 200:
                raise ValueError("a name has 1 to 200 characters")
            return {Contact.name: text}
        if field == "email":
            return {Contact.email: normal_email(text)}
        current = self.contact.custom_fields if self.contact else None
        return {Contact.custom_fields: self.fields_with(ContactField, current, field, text)}

    def fields_with(self, definition: type[CustomFieldDefinition], current: dict | None, field: str,
                    value: str) -> dict[str, Any]:
        """A contact's or a ticket's custom fields (`current`) with `value` as its field `field` (of `definition`'s,
        ContactField or TicketField), read as an import reads a cell; a ValueError saying why not. An empty value
        takes the field away."""
        kind = field_types(definition, self.company.id, [field]).get(field)
        if kind is None:
            raise ValueError(f"the company has no {definition._meta.table_name.replace('_', ' ')} {field!r}")
        return without_removed(current, {field: parse_text(kind, value)})

    def is_open(self, rule: Mapping[str, Any]) -> bool:
        """By the queue the rule names (its special days too), or by the rule's own `hours`."""
        rules = SimpleNamespace(business_hours=rule.get("hours") or {}, special_days={})
        if rule.get("queueId") is not None:
            queue = Queue.get_or_none(Queue.id == rule["queueId"], Queue.company == self.company.id)
            rules = queue if queue is not None else SimpleNamespace(business_hours={}, special_days={})
        return is_open(rules, utcnow(), self.company.timezone)


def attachment_fields(attachment: Attachment | None) -> dict:
    """OutboundDraft's fields for a bot's file: a URL's, or a quick message's (none if it was taken away since)."""
    if attachment is None:
        return {}
    if attachment.quick_message_id is None:
        return media_options(attachment.url, attachment.voice_note)
    return quick_message_media(QuickMessage.get_or_none(QuickMessage.id == attachment.quick_message_id))


def pacing_key(session_id: int) -> str:
    return f"wharf:flow_session:{session_id}:goes_at"


@dataclasses.dataclass
class Pacing:
    """When the last message the session's bot sent goes (Unix ms): the next one (its "typing…" for its node's
    `typingMs`) waits for it, so that the bot's messages go in order, each after the one before, across its runs too
    (a short `delay` node, a quick answer). Kept in Redis while a message waits."""

    session_id: int
    goes_at_ms: int = 0

    @classmethod
    def of(cls, session_id: int) -> Pacing:
        stored = redis_client().get(pacing_key(session_id))
        return cls(session_id, int(stored) if stored else 0)

    def timing(self, typing_ms: int) -> dict[str, int]:
        """OutboundDraft's typing of the bot's next message: its "typing…" starts when the one before it goes (one
        without typing goes just after it), or now."""
        now = current_millis()
        start = now if self.goes_at_ms <= now else self.goes_at_ms + (0 if typing_ms else 1)
        self.goes_at_ms = start + typing_ms
        if self.goes_at_ms > now:
            redis_client().set(pacing_key(self.session_id), self.goes_at_ms, px=self.goes_at_ms - now + 1000)
        return {"typing_ms": typing_ms, "typing_at_ms": start}


class SessionEffects(ContactLookups):
    """A step's effects on the real ticket, written in the step's transaction and logged with it."""

    def __init__(
        self, session: FlowSession, ticket: Ticket, contact: Contact, external: ExternalOutcome | None, pacing: Pacing
    ):
        super().__init__(Company.get_by_id(session.company_id), contact)
        self.ticket, self.external_outcome = ticket, external
        self.outbounds: list[Outbound] = []
        self.pacing = pacing
        self.notes: list[TicketNote] = []
        self.log: list[dict] = []
        self.ticket_changed = self.contact_changed = False

    def bots(self, typing_ms: int) -> dict:
        """OutboundDraft's fields of a message of the bot's: its session (which withdraws it if the bot is let go of
        before it goes) and its typing."""
        return {"flow_session_id": self.pacing.session_id, **self.pacing.timing(typing_ms)}

    def send(self, text: str, attachment: Attachment | None = None, typing_ms: int = 0) -> None:
        outbound = write_outbound(self.ticket, text, **attachment_fields(attachment), **self.bots(typing_ms))
        self.outbounds.append(outbound)
        self.log.append({"sent": text, "messageId": outbound.message.id, **(attachment.described() if attachment else {}),
                         **({"typingMs": typing_ms} if typing_ms else {})})

    def send_poll(self, poll: Poll, typing_ms: int = 0) -> None:
        outbound = write_outbound(self.ticket, poll.text(), message_type="poll", poll=poll, **self.bots(typing_ms))
        self.outbounds.append(outbound)
        self.log.append({"sentPoll": poll.name, "options": list(poll.options), "messageId": outbound.message.id,
                         **({"typingMs": typing_ms} if typing_ms else {})})

    def save_contact_field(self, field: str, value: str) -> str | None:
        try:
            changes = self.contact_changes(field, value)
        except ValueError as error:
            self.log.append({"contactField": field, "refused": str(error)})
            return str(error)
        Contact.update({**changes, Contact.updated_at: utcnow()}).where(Contact.id == self.contact.id).execute()
        self.contact_changed = self.ticket_changed = True  # the ticket shows its contact
        self.log.append({"contactField": field, "value": value.strip()})
        return None

    def save_ticket_field(self, field: str, value: str) -> str | None:
        try:
            fields = self.fields_with(TicketField, self.ticket.custom_fields, field, value)
        except ValueError as error:
            self.log.append({"ticketField": field, "refused": str(error)})
            return str(error)
        set_ticket_fields(self.ticket, fields)
        self.ticket_changed = True
        self.log.append({"ticketField": field, "value": value.strip()})
        return None

    def add_note(self, text: str) -> None:
        note = TicketNote.create(ticket=self.ticket, user=None, body=text)
        self.notes.append(note)
        self.log.append({"note": text, "noteId": note.id})

    def set_priority(self, priority: str | None) -> None:
        self.ticket.prioritise(None, priority)
        self.ticket_changed = True
        self.log.append({"priority": priority})

    def change_tag(self, name: str, add: bool) -> None:
        if not name:
            return
        if add:
            Tag.insert(company=self.company.id, name=name).on_conflict_ignore().execute()
        tag = Tag.get_or_none(Tag.company == self.company.id, peewee.fn.LOWER(Tag.name) == name.lower())
        if tag is None:
            return
        change_contact_tags(self.contact.id, [tag.id], add)
        self.log.append({"tag": tag.name, "added" if add else "removed": True})

    def transfer(self, queue_id: int | None, user_id: int | None) -> None:
        if (
            queue_id is not None
            and not Queue.select().where(Queue.id == queue_id, Queue.company == self.company.id).exists()
        ):
            queue_id = None
        transfer(self.ticket, None, queue_id, user_id)
        self.ticket_changed = True
        self.log.append({"transferred": {"queueId": self.ticket.queue_id, "userId": self.ticket.user_id}})

    def close(self) -> None:
        close_ticket(self.ticket, None)
        self.ticket_changed = True
        self.log.append({"closed": True})

    def external(self, node: Mapping[str, Any], variables: Mapping[str, str]) -> ExternalOutcome:
        outcome = self.external_outcome or ExternalOutcome(ok=False, error="no outcome")
        self.log.append({node["type"]: {"ok": outcome.ok, "status": outcome.status, "error": outcome.error}})
        return outcome


def ai_history(ticket_id: int, window: int) -> list[dict]:
    """The ticket's last `window` messages, oldest first, as chat turns."""
    rows = (
        Message.select(Message.direction, Message.body)
        .where(Message.ticket == ticket_id, ~Message.private, Message.body != "")
        .order_by(Message.id.desc())
        .limit(window)
    )
    return [
        {"role": "user" if row.direction == "in" else "assistant", "content": row.body}
        for row in reversed(rows)
    ]


def call_external(session: FlowSession, node: Mapping[str, Any]) -> ExternalOutcome:
    """The HTTP or AI node's call, made before the step's transaction."""
    variables = session.variables or {}
    if node["type"] == "http":
        outcome = perform_http_request(node, variables)
        return ExternalOutcome(
            ok=outcome.ok, error=outcome.error, status=outcome.status, saved=dict(outcome.saved)
        )
    history = ai_history(session.ticket_id, int(node.get("historyWindow", DEFAULT_HISTORY_WINDOW)))
    outcome = generate_ai_reply(session.company_id, dict(node), history, variables)
    return ExternalOutcome(ok=outcome.ok, error=outcome.error, text=outcome.text)


def end_row(session: FlowSession, reason: str) -> None:
    session.status, session.end_reason, session.ended_at = "ended", reason, utcnow()
    session.waiting = session.wait_until = session.pending_event = None


def contact_words(message: Message) -> str:
    """What the contact wrote, which the bot reads: the text or caption; a kind Wharf does not show (`unsupported`)
    carries none, like a photo without a caption, its body being Wharf's words about it."""
    return "" if message.type == "unsupported" else message.body or ""


def input_event(message: Message) -> dict:
    return {"kind": "input", "text": contact_words(message), "messageId": message.id}


def unread_input(session: FlowSession) -> Message | None:
    """The contact's first message the bot has not read: it came while the bot was busy stepping. A call is none
    (workers/calls.py): its "📞 Voice call" is no answer."""
    return (
        Message.select()
        .where(Message.ticket == session.ticket_id, Message.direction == "in", Message.id > session.last_input_id,
               Message.type != "call")
        .order_by(Message.id)
        .first()
    )


def save_state(session: FlowSession, state: FlowState) -> None:
    session.node, session.variables, session.retries = state.node, state.variables, state.retries
    session.pending_event = None
    if state.node is None:
        end_row(session, state.end_reason or "completed")
    elif state.waiting == "input" and (message := unread_input(session)) is not None:
        session.status, session.waiting, session.wait_until = "running", None, None
        session.pending_event, session.last_input_id, session.steps_since_input = input_event(message), message.id, 0
    elif state.waiting:
        session.status, session.waiting = "waiting", state.waiting
        session.wait_until = (
            utcnow() + dt.timedelta(seconds=state.wait_seconds) if state.wait_seconds else None
        )
    else:
        session.status, session.waiting, session.wait_until = "running", None, None


def current_node(session: FlowSession) -> dict | None:
    """The node the session's next step runs, from its version's definition (None once it ended)."""
    return next((n for n in version_definition(session.version_id)["nodes"] if n["id"] == session.node), None)


def peek_external(session_id: int) -> tuple[int, ExternalOutcome] | None:
    """When the next step is an HTTP or AI node being entered: (step it is, the call's outcome)."""
    session = FlowSession.get_or_none(FlowSession.id == session_id)
    if session is None or session.status != "running" or session.node is None:
        return None
    node = current_node(session)
    if node is None or node["type"] not in ("http", "ai"):
        return None
    return session.step_seq, call_external(session, node)


def run_one_step(session_id: int, pacing: Pacing) -> bool:
    """Run the session's next step (its messages paced after the run's before them); True while it has more to run
    now."""
    prefetched = peek_external(session_id)
    effects: SessionEffects | None = None
    announcements = Announcements()
    with database.atomic():
        session = locked(FlowSession.select().where(FlowSession.id == session_id)).first()
        if session is None or session.status != "running":
            return False
        if prefetched is not None and prefetched[0] != session.step_seq:
            return True  # another worker ran that step meanwhile: look again
        ticket, contact = Ticket.get_by_id(session.ticket_id), Contact.get_by_id(session.contact_id)
        reason = why_the_bot_lets_go(ticket, contact)
        if reason is None and session.steps_since_input >= MAX_STEPS_PER_INPUT:
            reason = "step_limit"
        if reason is not None:
            end_row(session, reason)
        else:
            effects = SessionEffects(session, ticket, contact, prefetched[1] if prefetched else None, pacing)
            state = FlowState(session.node, dict(session.variables or {}), retries=session.retries)
            event = session.pending_event
            node = run_step(version_definition(session.version_id), state, event, effects)
            session.step_seq += 1
            session.steps_since_input += 1
            FlowStep.create(
                session=session,
                seq=session.step_seq,
                node=node["id"],
                node_type=node["type"],
                event=event,
                effects=effects.log,
            )
            save_state(session, state)
        session.save()
        if effects is not None:
            announce_effects(announcements, effects)
        if session.status == "ended":
            announce_session(announcements, "flow:session_ended", session)
    if effects is not None:
        for outbound in effects.outbounds:
            dispatch_outbound(outbound)
    announcements.send()
    return session.status == "running"


def announce_effects(announcements: Announcements, effects: SessionEffects) -> None:
    """What a step changed, told once it commits: the notes it left, its contact, its ticket."""
    if not (effects.notes or effects.contact_changed or effects.ticket_changed):
        return
    ticket = Ticket.get_by_id(effects.ticket.id)
    for note in effects.notes:
        announce_note(announcements, note, ticket)
    if effects.contact_changed:
        contact = Contact.get_by_id(ticket.contact_id)
        announcements.add("contact:update", contact.company_id, contact_json(contact))
    if effects.ticket_changed:
        announcements.add("ticket:update", ticket.company_id, ticket_out(ticket).to_json(), ticket=ticket)


@dramatiq.actor(
    queue_name="flows", max_retries=5, min_backoff=1000, max_backoff=30_000, time_limit=10 * 60 * 1000
)
def advance_flow_session(session_id: int) -> dict:
    """Run a session's steps until it waits or ends; idempotent (a step already done is not run again)."""
    steps, pacing = 0, Pacing.of(session_id)
    while run_one_step(session_id, pacing):
        steps += 1
        if (
            steps > MAX_STEPS_PER_INPUT * 2
        ):  # a limit the session enforces itself; this only bounds one message
            break
    session = FlowSession.get_or_none(FlowSession.id == session_id)
    return {"sessionId": session_id, "status": session.status if session else None}


def initial_variables(
    contact: Contact, ticket: Ticket | None, extra: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The contact's custom fields, the standard template variables, then `extra` (which wins)."""
    queue = Queue.get_or_none(Queue.id == ticket.queue_id) if ticket and ticket.queue_id else None
    fields = {
        str(key): "" if value is None else str(value) for key, value in (contact.custom_fields or {}).items()
    }
    standard = standard_variables(
        name=contact.name or "",
        phone=contact.phone,
        email=contact.email or "",
        queue=queue.name if queue else "",
        protocol=str(ticket.id) if ticket else "",
    )
    return {**fields, **standard, **{str(k): "" if v is None else str(v) for k, v in (extra or {}).items()}}


def create_session(
    version: FlowVersion,
    ticket: Ticket,
    contact: Contact,
    trigger: str,
    variables: Mapping[str, Any] | None = None,
    read_up_to: int | None = None,
) -> FlowSession | None:
    """A running session of `version` on the ticket; None when the ticket has a live one already.
    The ticket's messages up to `read_up_to` (the one that triggered it), or else all so far, are not
    answers to the bot; those after it (recorded in the same batch) are."""
    definition = version.definition
    if read_up_to is None:
        read_up_to = Message.select(peewee.fn.MAX(Message.id)).where(
            Message.ticket == ticket.id, Message.direction == "in").scalar()
    try:
        with announcing() as announcements:
            session = FlowSession.create(
                company=ticket.company_id,
                flow=version.flow_id,
                version=version.id,
                ticket=ticket.id,
                contact=contact.id,
                connection=ticket.connection_id,
                trigger=trigger,
                node=entry_node(definition),
                variables=initial_variables(contact, ticket, variables),
                last_input_id=read_up_to or 0,
            )
            announce_session(announcements, "flow:session_started", session)
    except peewee.IntegrityError:
        return None
    return session


def start_session(
    version: FlowVersion,
    ticket: Ticket,
    contact: Contact,
    trigger: str,
    variables: Mapping[str, Any] | None = None,
    read_up_to: int | None = None,
) -> FlowSession | None:
    """Create the session and send its first steps to a worker."""
    session = create_session(version, ticket, contact, trigger, variables, read_up_to)
    if session is not None:
        advance_flow_session.send(session.id)
    return session


def live_session(ticket_id: int) -> FlowSession | None:
    return FlowSession.get_or_none(FlowSession.ticket == ticket_id, FlowSession.status.in_(LIVE_STATUSES))


def keywords_of(trigger: Mapping[str, Any]) -> set[str]:
    """A keyword trigger's words (comma-separated, compared without case)."""
    return {word.strip().casefold() for word in str(trigger["value"]).split(",") if word.strip()}


def trigger_matches(trigger: Mapping[str, Any], text: str) -> bool:
    if trigger["type"] == "keyword":
        return text.strip().casefold() in keywords_of(trigger)
    if trigger["type"] == "regex":
        return found_in(trigger["value"], text)
    return True


def is_first_campaign_reply(contact: Contact, campaign_id: int | None, window_hours: float) -> bool:
    """The contact got a campaign's message lately and this is their first message since."""
    shipping = (
        CampaignShipping.select()
        .where(
            CampaignShipping.contact == contact.id,
            CampaignShipping.sent_at >= utcnow() - dt.timedelta(hours=window_hours),
            *([CampaignShipping.campaign == campaign_id] if campaign_id else []),
        )
        .order_by(CampaignShipping.sent_at.desc())
        .first()
    )
    if shipping is None:
        return False
    return (
        Message.select()
        .where(
            Message.contact == contact.id, Message.direction == "in", Message.created_at >= shipping.sent_at
        )
        .count()
        == 1
    )


def triggered_version(
    ticket: Ticket, contact: Contact, text: str, ticket_created: bool
) -> FlowVersion | None:
    """The published flow version this inbound message starts, by trigger priority, then the oldest flow."""
    kinds = ["keyword", "regex", "campaign_reply"] + (["new_ticket"] if ticket_created else [])
    candidates = (
        FlowVersion.select(FlowVersion, Flow)
        .join(Flow)
        .where(
            Flow.company == ticket.company_id,
            Flow.active,
            Flow.trigger_type.in_(kinds),
            FlowVersion.version == Flow.published_version,
        )
        .order_by(Flow.id)
    )
    by_kind = sorted(candidates, key=lambda version: TRIGGER_ORDER.index(version.flow.trigger_type))
    for version in by_kind:
        trigger = version.definition["trigger"]
        if trigger.get("connectionId") not in (None, ticket.connection_id):
            continue
        if trigger["type"] == "new_ticket" and trigger.get("queueId") not in (None, ticket.queue_id):
            continue
        if trigger["type"] == "campaign_reply" and not is_first_campaign_reply(
            contact, trigger.get("campaignId"), float(trigger.get("withinHours", CAMPAIGN_REPLY_HOURS))
        ):
            continue
        if trigger_matches(trigger, text):
            return version
    return None


def resume_with(session: FlowSession, event: dict, input_id: int) -> bool:
    """Wake a session waiting for the contact's answer with `event`, what they said in the message `input_id`;
    False when it waits for nothing the contact says now (a busy bot reads a message when it next waits for one:
    `save_state`), or has read that message, or a later one, already."""
    woken = (
        FlowSession.update(
            status="running",
            pending_event=event,
            last_input_id=input_id,
            waiting=None,
            wait_until=None,
            steps_since_input=0,
            updated_at=utcnow(),
        )
        .where(
            FlowSession.id == session.id,
            FlowSession.status == "waiting",
            FlowSession.waiting == "input",
            FlowSession.last_input_id < input_id,
        )
        .execute()
    )
    if woken:
        advance_flow_session.send(session.id)
    return bool(woken)


def answer_with_vote(poll_message: Message, voter: str) -> bool:
    """A contact's vote on a poll a bot asked (a menu with `poll: true`) is their answer, as if they wrote the option
    chosen: it wakes the ticket's session that waits at that poll menu, unless the session read something of the
    contact's since the poll was sent (it asked again, or moved on) or began after it. A vote on another poll (a
    campaign's, an agent's) answers no menu. The voter's vote as kept is their answer: the latest they cast, also
    when a vote is delivered again after a crash."""
    session = live_session(poll_message.ticket_id)
    if session is None or session.created_at > poll_message.created_at:
        return False
    node = current_node(session)
    if node is None or node["type"] != "menu" or not node.get("poll"):
        return False
    if poll_message.poll["options"] != list(menu_options(node).values()):
        return False
    options = PollVote.get(PollVote.message == poll_message.id, PollVote.voter == voter).options
    if not options:  # withdrawn
        return False
    return resume_with(session, {"kind": "input", "text": options[0], "messageId": poll_message.id}, poll_message.id)


def tickets_a_flow_may_take(tickets: list[Ticket]) -> set[int]:
    """The ids of the tickets whose inbound messages `hand_to_flow` may act on: those with a live session,
    and all of a company with an active published flow that messages trigger. For the others it would
    do nothing, so a batch of messages costs two queries here instead of three per message."""
    live = FlowSession.select(FlowSession.ticket).where(
        FlowSession.ticket.in_([t.id for t in tickets]), FlowSession.status.in_(LIVE_STATUSES))
    triggering = Flow.select(Flow.company).where(
        Flow.company.in_({t.company_id for t in tickets}), Flow.active, Flow.published_version.is_null(False),
        Flow.trigger_type.in_(TRIGGER_ORDER))
    with_session = {row.ticket_id for row in live}
    with_flows = {row.company_id for row in triggering}
    return {t.id for t in tickets if t.id in with_session or t.company_id in with_flows}


def read_by_a_session(ticket_id: int, message_id: int) -> bool:
    """A session of the ticket took the message (or a later one) already."""
    return FlowSession.select().where(FlowSession.ticket == ticket_id, FlowSession.last_input_id >= message_id).exists()


def hand_to_flow(ticket: Ticket, contact: Contact, message: Message, ticket_created: bool) -> bool:
    """An inbound message for the bot: the ticket's live session takes it, or it starts a flow.

    True when a flow has the conversation (the platform's own greeting and queue menu stay quiet)."""
    session = live_session(ticket.id)
    if ticket.user_id is not None:
        if session is not None:
            stop_session(session, "agent_took_over")
        return False
    if session is not None:
        resume_with(session, input_event(message), message.id)
        return True
    if is_opted_out(contact):
        return False
    if read_by_a_session(ticket.id, message.id):
        return True  # a redelivery of a message that started a session, since ended
    words = contact_words(message)
    version = triggered_version(ticket, contact, words, ticket_created)
    if version is None:
        return False
    start_session(version, ticket, contact, version.flow.trigger_type, {"triggerMessage": words}, message.id)
    return True  # started, or a message racing this one started a session first


def resume_due_sessions() -> int:
    """The scheduler's tick: wake the sessions whose wait is over, and send again those left running.

    A session is claimed (`waiting` → `running`, `FOR UPDATE SKIP LOCKED` on PostgreSQL) before its
    actor message is sent; a crash in between leaves it running and untouched, which the next ticks
    send again once it is `STALLED_AFTER` old (the actor runs a step once, however often it is sent).
    """
    now = utcnow()
    with database.atomic():
        due = [
            row.id
            for row in locked(
                FlowSession.select(FlowSession.id)
                .where(FlowSession.status == "waiting", FlowSession.wait_until <= now)
                .order_by(FlowSession.wait_until)
                .limit(RESUME_BATCH),
                skip_locked=True,
            )
        ]
        if due:
            FlowSession.update(
                status="running",
                pending_event={"kind": "timeout"},
                waiting=None,
                wait_until=None,
                steps_since_input=0,
                updated_at=now,
            ).where(FlowSession.id.in_(due), FlowSession.status == "waiting").execute()
    stalled = [
        row.id
        for row in FlowSession.select(FlowSession.id)
        .where(FlowSession.status == "running", FlowSession.updated_at < now - STALLED_AFTER)
        .limit(RESUME_BATCH)
    ]
    if stalled:
        FlowSession.update(updated_at=now).where(FlowSession.id.in_(stalled)).execute()
    for session_id in due + stalled:
        advance_flow_session.send(session_id)
    return len(due) + len(stalled)


def stop_session(session: FlowSession, reason: str = "stopped") -> bool:
    """End a live session now (an API call); False when it had ended already."""
    with announcing() as announcements:
        stopped = (
            FlowSession.update(
                status="ended",
                end_reason=reason,
                ended_at=utcnow(),
                waiting=None,
                wait_until=None,
                pending_event=None,
                updated_at=utcnow(),
            )
            .where(FlowSession.id == session.id, FlowSession.status.in_(LIVE_STATUSES))
            .execute()
        )
        if stopped:
            announce_session(announcements, "flow:session_ended", FlowSession.get_by_id(session.id))
    return bool(stopped)
