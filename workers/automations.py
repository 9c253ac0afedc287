"""Automation rules at work (db/automations.py): a contact's message that opens a ticket (`ticket_created`) or comes in
on one (`message_received`) is checked against the company's active rules of that event, oldest first, before the
bot, greeting or menu answer it; a target of its SLA policy the ticket missed (`sla_missed`), once the scheduler has
recorded it (workers/sla.py); a closing (`ticket_closed`), by a job written with it (workers/closing.py). Each rule
whose conditions hold does its actions on the ticket, in order.

A rule's run is one transaction: its `AutomationRun` row (unique per rule and cause: message, miss or closing) with
everything its actions wrote (messages, notes, tags, the ticket's changes, their webhook deliveries), the messages
dispatched and the events published once it commits. A cause handled again after a crash (a message's follow-up and a
miss stay pending until their rules have run, a closing's job until it is done: see workers/inbound.py,
workers/sla.py, workers/jobs.py) finds the run and does nothing twice.
An action that cannot be done (the ticket closed, a tag deleted since) is undone alone and stops the rule there, as a
macro stops; the run says which and why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any

import dramatiq
import peewee

from api.contact_json import contact_json
from api.ticket_json import announce_note, ticket_out
from db.automations import MESSAGE_EVENTS, AutomationRule, AutomationRun
from db.base import database, sqlite_folded, utcnow
from db.company_settings import company_setting
from db.contacts import Contact, ContactTag, Tag, change_contact_tags, field_types
from db.messages import Message, QuickMessage
from db.queue_rules import is_open
from db.queues import Queue
from db.sla import SlaPolicy
from db.tickets import (
    SlaMiss,
    Ticket,
    TicketEvent,
    TicketField,
    TicketNote,
    change_ticket_tags,
    priority_name,
    sees_ticket,
    set_ticket_fields,
    ticket_tag_ids,
)
from db.users import User
from db.webhooks import Webhook, WebhookDelivery
from wharf.custom_fields import checked_values, ordered, without_removed
from wharf.patterns import found_in
from workers.assignment import at_ticket_limit, give, transfer
from workers.closing import close_with_farewell
from workers.events import Announcements
from workers.messages import Outbound, dispatch_outbounds, message_event, quick_message_media, write_outbound
from workers.notifications import notify
from workers.templating import render_template, ticket_variables
from workers.webhooks import RULE_EVENT, envelope

logger = logging.getLogger(__name__)


class ActionRefused(Exception):
    """The action cannot be done on the ticket as it is now: the rule stops there, and its run says why."""


def active_rules(company_id: int, events: tuple[str, ...] = MESSAGE_EVENTS) -> list[AutomationRule]:
    """The company's active rules of these events, in the order they run: those of a new ticket before those of a
    message, each oldest first. Read once for an inbound batch (none: its messages cost that query, no more)."""
    rules = AutomationRule.select().where(AutomationRule.company == company_id, AutomationRule.event.in_(events),
                                          AutomationRule.active == True)  # noqa: E712
    return sorted(rules, key=lambda rule: (rule.event != "ticket_created", rule.id))


@dataclasses.dataclass
class Facts:
    """What conditions look at: the event's cause (a message, an SLA miss, a closing), the ticket as the rules before
    left it, the contact."""

    ticket: Ticket
    contact: Contact
    message: Message | None = None
    sla_miss: SlaMiss | None = None
    closing: TicketEvent | None = None

    @functools.cached_property
    def contact_tag_ids(self) -> set[int]:
        return {row.tag_id for row in ContactTag.select(ContactTag.tag).where(ContactTag.contact == self.contact.id)}

    def cause(self) -> dict[str, Any]:
        """What ran the rule, as its `webhook` action shows it."""
        if self.message is not None:
            return {"message": message_event(self.message)}
        if self.sla_miss is not None:
            return {"slaTarget": self.sla_miss.kind}
        return {"closingId": self.closing.id if self.closing else None}

    @functools.cached_property
    def ticket_tag_ids(self) -> set[int]:
        return ticket_tag_ids(self.ticket.id)

    def open_now(self) -> bool:
        """The ticket's queue takes tickets now, by its hours and special days (no queue: always open)."""
        queue = Queue.get_or_none(Queue.id == self.ticket.queue_id) if self.ticket.queue_id else None
        return queue is None or is_open(queue, utcnow(), company_setting(self.ticket.company_id, "timezone"))


# What each condition's attribute is, for a message
SUBJECTS: dict[str, Callable[[Facts], Any]] = {
    "body": lambda facts: sqlite_folded(facts.message.body or "").strip(),
    "phone": lambda facts: facts.contact.phone,
    "message_type": lambda facts: facts.message.type,
    "connection_id": lambda facts: facts.ticket.connection_id,
    "queue_id": lambda facts: facts.ticket.queue_id,
    "contact_tag": lambda facts: facts.contact_tag_ids,
    "ticket_tag": lambda facts: facts.ticket_tag_ids,
    "assigned": lambda facts: facts.ticket.user_id is not None,
    "open_now": Facts.open_now,
    "sla_target": lambda facts: facts.sla_miss.kind,
    "status": lambda facts: facts.ticket.status,
    "priority": lambda facts: priority_name(facts.ticket.priority) or "none",
}


def field_text(value: Any) -> str:
    """A custom field's stored value as a condition reads it: folded text, `true`/`false`, empty when unset."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return sqlite_folded("" if value is None else str(value)).strip()


def folded(values: list) -> list:
    return [sqlite_folded(value).strip() for value in values]


# Each operator, on the attribute's value and the condition's values (texts compared without case or accents)
OPERATORS: dict[str, Callable[[Any, list], bool]] = {
    "contains": lambda text, values: any(value in text for value in folded(values)),
    "does_not_contain": lambda text, values: not any(value in text for value in folded(values)),
    "equals": lambda text, values: text in folded(values),
    "starts_with": lambda text, values: any(text.startswith(value) for value in folded(values)),
    "matches": lambda text, values: any(found_in(value, text) for value in values),
    "in": lambda subject, values: bool(subject & set(values)) if isinstance(subject, set) else subject in values,
    "not_in": lambda subject, values: not OPERATORS["in"](subject, values),
    "is": lambda subject, values: subject == values[0],
    "greater_than": lambda text, values: any(ordered(text, value) == 1 for value in values),
    "less_than": lambda text, values: any(ordered(text, value) == -1 for value in values),
}


def condition_holds(condition: dict, facts: Facts) -> bool:
    if condition["attribute"] in ("contact_field", "ticket_field"):
        record = facts.contact if condition["attribute"] == "contact_field" else facts.ticket
        subject = field_text((record.custom_fields or {}).get(condition["key"]))
    else:
        subject = SUBJECTS[condition["attribute"]](facts)
    if condition["operator"] == "matches":  # a pattern reads the text as written
        subject = facts.message.body or ""
    return OPERATORS[condition["operator"]](subject, condition["values"])


def rule_applies(rule: AutomationRule, facts: Facts) -> bool:
    """All the rule's conditions hold (or any, by its `match`); a rule without conditions always applies."""
    if not rule.conditions:
        return True
    results = (condition_holds(condition, facts) for condition in rule.conditions)
    return all(results) if rule.match == "all" else any(results)


@dataclasses.dataclass
class RuleWork:
    """A rule's actions on the ticket of its event (`facts`), in the run's transaction; what they wrote, to tell once
    it commits. A rule of a closing writes to the ticket it closed: its reply goes out as a farewell does."""

    rule: AutomationRule
    facts: Facts
    outbounds: list[Outbound] = dataclasses.field(default_factory=list)
    notes: list[TicketNote] = dataclasses.field(default_factory=list)
    deliveries: list[int] = dataclasses.field(default_factory=list)
    ticket_changed: bool = False
    contact_changed: bool = False

    @property
    def ticket(self) -> Ticket:
        return self.facts.ticket

    @property
    def contact(self) -> Contact:
        return self.facts.contact

    def do(self, action: dict) -> None:
        """One action, in a savepoint: undone alone when refused."""
        with database.atomic():
            outbounds = ACTIONS[action["type"]](self, action)
        self.outbounds += outbounds
        self.ticket_changed = True

    def live(self) -> None:
        if self.ticket.status == "closed":
            raise ActionRefused("the ticket is closed")

    def company_row(self, model: type[peewee.Model], row_id: int, what: str) -> Any:
        row = model.get_or_none(model.id == row_id, model.company == self.ticket.company_id)
        if row is None:
            raise ActionRefused(f"the {what} {row_id} was deleted")
        return row

    def agent(self, user_id: int) -> User:
        """An active agent of the company, below their limit of open tickets."""
        user = self.company_row(User, user_id, "user")
        if not user.active:
            raise ActionRefused(f"{user.name} is deactivated")
        if (count := at_ticket_limit(user)) is not None:
            raise ActionRefused(f"{user.name} already has {count} open tickets (the limit)")
        return user

    def agent_name(self) -> str:
        return self.ticket.user.name if self.ticket.user_id else ""

    def send_message(self, action: dict) -> list[Outbound]:
        """The reply, its variables filled in for the ticket; a quick message with its file (an audio without text)."""
        if self.facts.closing is None:
            self.live()
        if self.contact.blocked:
            raise ActionRefused("the contact is blocked")
        if self.ticket.connection_id is None:
            raise ActionRefused("the ticket's connection was deleted")
        text, media = action.get("body"), {}
        if (quick_id := action.get("quickMessageId")) is not None:
            quick = self.company_row(QuickMessage, quick_id, "quick message")
            text, media = text or quick.body, quick_message_media(quick)
        text = "" if media.get("message_type") == "audio" else render_template(
            text, ticket_variables(self.ticket, self.agent_name()))
        return [write_outbound(self.ticket, text, **media)]

    def note(self, action: dict) -> list[Outbound]:
        """A private note; the colleagues it names who may see the ticket are notified."""
        note = TicketNote.create(ticket=self.ticket, user=None, body=action["body"])
        self.notes.append(note)
        named = User.select(User.id, User.role).where(User.id.in_(action.get("mentionedUserIds") or []),
                                                     User.company == self.ticket.company_id, User.active == True)  # noqa: E712
        notify([user.id for user in named if sees_ticket(self.ticket, user)], "mention", self.ticket, None, noteId=note.id, text=action["body"][:280])
        return []

    def assign(self, action: dict) -> list[Outbound]:
        """A waiting ticket no one has goes to the agent, as an auto-assigning queue gives one."""
        user = self.agent(action["userId"])
        if self.ticket.user_id == user.id:
            return []
        if not give(self.ticket, user.id, "automation"):
            raise ActionRefused("the ticket is not waiting for an agent: transfer it instead")
        return []

    def transfer(self, action: dict) -> list[Outbound]:
        self.live()
        queue_id, user_id = action.get("queueId"), action.get("userId")
        if queue_id is not None:
            self.company_row(Queue, queue_id, "queue")
        if user_id is not None:
            self.agent(user_id)
        transfer(self.ticket, None, queue_id, user_id)
        if action.get("note"):
            self.notes.append(TicketNote.create(ticket=self.ticket, user=None, body=action["note"]))
        return []

    def change_tags(self, action: dict) -> list[Outbound]:
        """The ticket's tags (`add_tags`, `remove_tags`) or its contact's (`add_contact_tags`...)."""
        tag_ids = set(action["tagIds"])
        found = {tag.id for tag in Tag.select(Tag.id).where(Tag.id.in_(tag_ids), Tag.company == self.ticket.company_id)}
        if missing := sorted(tag_ids - found):
            raise ActionRefused(f"the tags {missing} were deleted")
        add = action["type"].startswith("add_")
        if action["type"].endswith("_contact_tags"):
            change_contact_tags(self.contact.id, tag_ids, add)
            self.contact_changed = True
        else:
            change_ticket_tags(self.ticket.id, tag_ids, add)
        return []

    def prioritise(self, action: dict) -> list[Outbound]:
        self.ticket.prioritise(None, action["priority"])
        return []

    def snooze(self, action: dict) -> list[Outbound]:
        until = utcnow() + dt.timedelta(minutes=action["minutes"]) if action.get("minutes") else None
        if not self.ticket.snooze(None, until):
            raise ActionRefused("only an open ticket can be snoozed")
        return []

    def apply_sla(self, action: dict) -> list[Outbound]:
        self.ticket.apply_sla(None, self.company_row(SlaPolicy, action["slaPolicyId"], "SLA policy"))
        return []

    def webhook(self, action: dict) -> list[Outbound]:
        """The ticket as the rule has left it so far, to the webhook named: a signed delivery, retried and logged as
        any (`automation:rule`), enqueued once the run commits."""
        hook = self.company_row(Webhook, action["webhookId"], "webhook")
        if not hook.enabled:
            raise ActionRefused(f"the webhook {hook.id} is disabled")
        data = {"rule": {"id": self.rule.id, "name": self.rule.name, "event": self.rule.event}, **self.facts.cause(),
                "ticket": ticket_out(Ticket.get_by_id(self.ticket.id)).to_json()}
        payload = envelope(RULE_EVENT, self.ticket.company_id, data)
        self.deliveries.append(WebhookDelivery.create(webhook=hook.id, event=RULE_EVENT, payload=payload).id)
        return []

    def set_fields(self, action: dict) -> list[Outbound]:
        """The ticket's own custom fields, checked as the API checks them (a field deleted since fails the run)."""
        values = action["customFields"]
        checked, problems = checked_values(field_types(TicketField, self.ticket.company_id, values), values)
        if problems:
            raise ActionRefused("; ".join(f"{key}: {why}" for key, why in sorted(problems.items())))
        set_ticket_fields(self.ticket, without_removed(self.ticket.custom_fields, checked))
        return []

    def close(self, action: dict) -> list[Outbound]:
        if self.ticket.status == "closed":
            return []
        return close_with_farewell(self.ticket, None, self.agent_name(), action.get("sendFarewell", True))

    def announce(self, announcements: Announcements) -> None:
        """In the run's transaction: the notes it left, the ticket as it left it, its contact if it tagged them, and
        its webhook deliveries."""
        announcements.deliveries += self.deliveries
        if self.contact_changed:
            announcements.add("contact:update", self.contact.company_id, contact_json(Contact.get_by_id(self.contact.id)))
        if not self.ticket_changed:
            return
        ticket = Ticket.get_by_id(self.ticket.id)
        for note in self.notes:
            announce_note(announcements, note, ticket)
        announcements.add("ticket:update", ticket.company_id, ticket_out(ticket).to_json(), ticket=ticket)


ACTIONS: dict[str, Callable[[RuleWork, dict], list[Outbound]]] = {
    "send_message": RuleWork.send_message,
    "note": RuleWork.note,
    "assign": RuleWork.assign,
    "transfer": RuleWork.transfer,
    "add_tags": RuleWork.change_tags,
    "remove_tags": RuleWork.change_tags,
    "add_contact_tags": RuleWork.change_tags,
    "remove_contact_tags": RuleWork.change_tags,
    "priority": RuleWork.prioritise,
    "snooze": RuleWork.snooze,
    "close": RuleWork.close,
    "apply_sla": RuleWork.apply_sla,
    "webhook": RuleWork.webhook,
    "custom_fields": RuleWork.set_fields,
}


def run_rule(rule: AutomationRule, facts: Facts) -> bool:
    """The rule's actions on the ticket, once per cause (message, miss, closing); True when it ran now (not before)."""
    ticket = facts.ticket
    work, announcements = RuleWork(rule, facts), Announcements()
    with database.atomic():
        try:
            with database.atomic():
                run = AutomationRun.create(rule=rule.id, ticket=ticket.id, message=facts.message,
                                           sla_miss=facts.sla_miss, closing=facts.closing, status="done")
        except peewee.IntegrityError:
            return False  # this cause ran it before a crash
        for index, action in enumerate(rule.actions):
            try:
                work.do(action)
            except ActionRefused as refusal:
                error = str(refusal)
            except Exception:
                logger.exception("automation rule %s: action %s failed on ticket %s", rule.id, index, ticket.id)
                error = "something went wrong on our side; it has been logged"
            else:
                continue
            AutomationRun.update(status="failed", failed_action=index, error=error).where(
                AutomationRun.id == run.id).execute()
            break
        work.announce(announcements)
    if work.outbounds:
        dispatch_outbounds(work.outbounds)
    announcements.send()
    return True


def run_automations(rules: list[AutomationRule], message: Message, ticket: Ticket, contact: Contact,
                    ticket_created: bool) -> Ticket:
    """The company's active `rules` (`active_rules`) of the contact's message, and of its new ticket where it opened
    one; returns the ticket as they left it."""
    for rule in rules:
        if rule.event == "ticket_created" and not ticket_created:
            continue
        facts = Facts(ticket, contact, message=message)
        if rule_applies(rule, facts) and run_rule(rule, facts):
            ticket = Ticket.get_by_id(ticket.id)
    return ticket


def run_event_rules(rules: list[AutomationRule], ticket: Ticket, **cause: SlaMiss | TicketEvent) -> None:
    """The company's active `rules` of a ticket's event (`sla_miss=`, `closing=`) on it, each once."""
    contact = Contact.get_by_id(ticket.contact_id)
    for rule in rules:
        facts = Facts(ticket, contact, **cause)
        if rule_applies(rule, facts) and run_rule(rule, facts):
            ticket = Ticket.get_by_id(ticket.id)


@dramatiq.actor(queue_name="automations", max_retries=5)
def run_closing_rules(closing_id: int) -> dict[str, int]:
    """The company's active `ticket_closed` rules on a closing (the `closed` line of the ticket's history), each
    once; none when the closing was undone (its transaction rolled back) or the ticket deleted since."""
    closing = TicketEvent.get_or_none(TicketEvent.id == closing_id, TicketEvent.kind == "closed")
    if closing is None:
        return {"rules": 0}
    ticket = Ticket.get_by_id(closing.ticket_id)
    rules = active_rules(ticket.company_id, ("ticket_closed",))
    run_event_rules(rules, ticket, closing=closing)
    return {"rules": len(rules)}
