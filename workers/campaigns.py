"""Campaigns: fan-out to the ledger, and the pacing pump that sends within the throttle.

`fan_out_campaign` writes one `CampaignShipping` row per recipient of the campaign's current run in one
INSERT ... SELECT (running it again adds only the contacts not in the run's ledger yet; a cron campaign's
next run is a new run, to the whole audience again). `pump_campaign` is one tick of a chain:
it claims the next recipients the throttle allows, writes their messages and links them to their
rows in the same transaction, sends them after the commit, and sends itself again with a delay.
No delayed job per recipient exists, so pausing is a status change the next tick reads; a tick
owns its turn by moving `pump_seq` on, so a redelivered or superseded tick sends nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import logging
import math
import operator
import random
from dataclasses import dataclass

import dramatiq
import peewee
from peewee import SQL, Case, Value, fn

from db.base import database, locked, utcnow
from db.campaigns import Campaign, CampaignShipping, rotation_of
from db.connections import Connection
from db.contact_lists import ContactListItem
from db.contacts import Contact, ContactTag, field_is
from db.messages import OUR_REACTOR, Message, PollVote
from db.opt_outs import listed
from db.schedules import next_cron_time
from db.tickets import Ticket
from wharf.metrics import CAMPAIGN_SENDS
from workers.events import Announcements, announcing, publish
from workers.jobs import enqueue_job
from workers.messages import Outbound, dispatch_outbound, media_options, write_outbound
from workers.number_limits import acquire, give_back, jitter_of
from workers.templating import render_template, standard_variables
from workers.transports.base import Poll

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # a tick sends what the rate allows in about this long (one recipient at slow rates)
STALLED_AFTER = dt.timedelta(seconds=30)
ACTIVE = ("running", "paused")
NO_NUMBER_WAIT = 15.0  # none of the campaign's numbers is connected: look again this much later
MAX_WAIT = 300.0  # a tick deferred by the limits comes back at least this often (limits may change)
CATCH_UP_SECONDS = 5.0  # a late tick may send this much of the schedule it missed (see tick_base)


@dataclass(frozen=True)
class Tick:
    batch: int  # recipients this tick may send
    delay: float  # seconds until the next tick


def plan_tick(throttle: dict, dispatched: int, rng: random.Random | None = None) -> Tick:
    """How many to send now and when to come back, after `dispatched` sends so far.

    The mean interval is exactly 60/perMinute per recipient; jitter moves each tick by up to
    ±jitterSeconds (so the rate holds on average); every `pauseEvery` sends add `pauseSeconds`.
    """
    rng = rng or random
    interval = 60.0 / max(1, int(throttle["perMinute"]))
    batch = max(1, int(TICK_SECONDS / interval))
    pause_every = int(throttle.get("pauseEvery") or 0)
    if pause_every:
        batch = min(batch, pause_every - dispatched % pause_every)
    jitter = float(throttle.get("jitterSeconds") or 0)
    delay = max(0.0, batch * interval + rng.uniform(-jitter, jitter))
    if pause_every and (dispatched + batch) % pause_every == 0:
        delay += float(throttle.get("pauseSeconds") or 0)
    return Tick(batch, delay)


def audience_of(campaign: Campaign) -> peewee.Expression:
    """The campaign's recipients among the company's contacts: its list, its tag and its ids, together, narrowed to
    those whose contact field holds one of the values its `audience_field` names (alone: every such contact)."""
    by_field = campaign.audience_field
    parts = []
    if campaign.contact_list_id:
        parts.append(Contact.id.in_(ContactListItem.select(ContactListItem.contact)
                                    .where(ContactListItem.contact_list == campaign.contact_list_id)))
    if campaign.tag_id:
        parts.append(Contact.id.in_(ContactTag.select(ContactTag.contact).where(ContactTag.tag == campaign.tag_id)))
    if campaign.contact_ids:
        parts.append(Contact.id.in_(campaign.contact_ids))
    together = functools.reduce(operator.or_, parts) if parts else None
    if by_field:
        narrowed = field_is(by_field["key"], by_field["values"])
        return narrowed if together is None else together & narrowed
    return Value(False) if together is None else together


def on_opt_out_list() -> peewee.Expression:
    """Contacts whose number is on their company's opt-out list (db/opt_outs.py)."""
    return Contact.opted_out_at.is_null(False) | fn.EXISTS(listed(Contact.company, Contact.phone))


def skip_rules() -> list[tuple[peewee.Expression, str]]:
    """Who is recorded as skipped, and why, in the order the reasons are given."""
    return [
        (on_opt_out_list(), "opted_out"),
        (Contact.blocked == True, "blocked"),  # noqa: E712 (SQL, not Python)
        (Contact.is_group == True, "invalid_number"),  # noqa: E712
        (~Contact.phone.startswith("+"), "invalid_number"),
        (Contact.on_whatsapp == False, "not_on_whatsapp"),  # noqa: E712 (never checked: null, sent to)
    ]


def audience_reach(campaign: Campaign) -> dict:
    """Whom the campaign would reach were it started now: its audience (`total`), those it would skip and why (as
    its ledger would record them: `skip_rules`), those it would send to (`reachable`) and of those, how many were
    never checked on WhatsApp (`unchecked`: sent to, and skipped from then on if WhatsApp refuses them)."""
    rules = skip_rules()
    reason = Case(None, rules, None)
    counts = (Contact.select(reason, Contact.on_whatsapp.is_null(), fn.COUNT(Contact.id))
              .where(Contact.company == campaign.company_id, audience_of(campaign))
              .group_by(SQL("1"), SQL("2")).tuples())
    reach = {"total": 0, "reachable": 0, "unchecked": 0, "skipped": dict.fromkeys((why for _, why in rules), 0)}
    for why, unchecked, count in counts:
        reach["total"] += count
        if why is not None:
            reach["skipped"][why] += count
        else:
            reach["reachable"] += count
            reach["unchecked"] += count if unchecked else 0
    return reach


def write_ledger(campaign: Campaign) -> int:
    """One row per recipient of the current run, in one statement; those already in it stay as they are."""
    rules = skip_rules()
    status = Case(None, [(rule, "skipped") for rule, _ in rules], "queued")
    reason = Case(None, rules, None)
    now = utcnow()
    recipients = (Contact.select(Value(campaign.id), Value(campaign.run), Contact.id, status, reason, Value(now),
                                 Value(now))
                  .where(Contact.company == campaign.company_id, audience_of(campaign)).order_by(Contact.id))
    fields = [CampaignShipping.campaign, CampaignShipping.run, CampaignShipping.contact, CampaignShipping.status,
              CampaignShipping.reason, CampaignShipping.created_at, CampaignShipping.updated_at]
    return CampaignShipping.insert_from(recipients, fields).on_conflict_ignore().as_rowcount().execute()


@dramatiq.actor(queue_name="campaigns", max_retries=10)
def fan_out_campaign(campaign_id: int) -> dict:
    """Write the campaign's ledger and start its pump; running it again adds only new recipients."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None or campaign.status not in ACTIVE:
        return {"campaignId": campaign_id, "skipped": True}
    with announcing() as announcements:  # the progress's webhooks commit with it
        written = write_ledger(campaign)
        Campaign.update(next_pump_at=utcnow()).where(Campaign.id == campaign_id).execute()
        announce_progress(announcements, campaign)
    pump_campaign.send(campaign_id, campaign.pump_seq)
    return {"campaignId": campaign_id, "recipients": written}


def sending_ticket(contact: Contact, connection_id: int) -> Ticket:
    """The contact's latest ticket on the connection, else a closed one: a campaign fills no agent's
    queue, and a reply opens (or finds) a live ticket as any inbound message does."""
    ticket = (Ticket.select().where(Ticket.contact == contact, Ticket.connection == connection_id)
              .order_by(Ticket.status == "closed", Ticket.id.desc()).first())
    if ticket is not None:
        return ticket
    now = utcnow()
    ticket = Ticket.create(company=contact.company_id, contact=contact, connection=connection_id, status="closed",
                           closed_at=now)
    ticket.record("created", reason="campaign")
    return ticket


def personalised(text: str, contact: Contact) -> str:
    variables = {**(contact.custom_fields or {}),
                 **standard_variables(name=contact.name, phone=contact.phone, email=contact.email or "")}
    return render_template(text, variables)


def queued_in_run(campaign: Campaign) -> peewee.ModelSelect:
    return CampaignShipping.select().where(CampaignShipping.campaign == campaign.id,
                                           CampaignShipping.run == campaign.run, CampaignShipping.status == "queued")


def claim_recipients(campaign: Campaign, limit: int) -> list[tuple[int, int]]:
    """Mark the run's next `limit` queued rows sent; returns their (row id, contact id). Call in a transaction."""
    due = locked(queued_in_run(campaign).select(CampaignShipping.id)
                 .order_by(CampaignShipping.id).limit(limit), skip_locked=True)
    claimed = (CampaignShipping.update(status="sent", sent_at=utcnow(), updated_at=utcnow())
               .where(CampaignShipping.id.in_(due))
               .returning(CampaignShipping.id, CampaignShipping.contact).tuples().execute())
    return sorted(claimed)


@dataclass(frozen=True)
class Budget:
    slots: list[Connection]  # the number each send allowed now goes out on, interleaved over the rotation
    wait: float = 0.0  # when no slot: seconds until one may be (limits, quiet hours, no number connected)
    jitter: float = 0.0  # the largest jitter of the numbers used

    def unused(self, used: int) -> list[Connection]:
        return self.slots[used:]


def sending_budget(campaign: Campaign, want: int, now: float | None = None) -> Budget:
    """Up to `want` sends, shared over the rotation's connected numbers within their limits (number_limits).

    The rotation starts at a number that moves on with every send, so even one send per tick rotates."""
    ids = rotation_of(campaign)
    connected = {c.id: c for c in Connection.select().where(Connection.id.in_(ids), Connection.status == "connected")}
    numbers = [connected[i] for i in ids if i in connected]
    if not numbers:
        return Budget([], NO_NUMBER_WAIT)
    start = campaign.dispatched % len(numbers)
    numbers = numbers[start:] + numbers[:start]
    granted, waits = [], []
    for index, number in enumerate(numbers):
        left = want - sum(len(g) for g in granted)
        grant = acquire(number, math.ceil(left / (len(numbers) - index)), now)
        granted.append([number] * grant.granted)
        if grant.wait:
            waits.append(grant.wait)
    slots = [number for row in itertools.zip_longest(*granted) for number in row if number is not None]
    jitter = max((jitter_of(number) for number in set(slots)), default=0.0)
    return Budget(slots, 0.0 if slots else min(MAX_WAIT, min(waits, default=NO_NUMBER_WAIT)), jitter)


def give_back_unused(slots: list[Connection]) -> None:
    for number in set(slots):
        give_back(number, slots.count(number))


def write_sends(campaign: Campaign, claimed: list[tuple[int, int]], slots: list[Connection],
                rng: random.Random | None = None) -> list[Outbound]:
    """A message per claimed row on its slot's number, linked to the row, in the caller's transaction."""
    rng = rng or random
    contacts = {contact.id: contact for contact in Contact.select().where(Contact.id.in_([c for _, c in claimed]))}
    outbounds = []
    for (shipping_id, contact_id), number in zip(claimed, slots, strict=False):
        variant = rng.randrange(len(campaign.messages)) if campaign.messages else None  # a voice note, a poll: none
        outbound = write_campaign_message(campaign, contacts[contact_id], number.id, variant)
        CampaignShipping.update(message=outbound.message.id, variant=variant).where(
            CampaignShipping.id == shipping_id).execute()
        outbounds.append(outbound)
    return outbounds


def write_campaign_message(campaign: Campaign, contact: Contact, connection_id: int, variant: int | None) -> Outbound:
    """In the caller's transaction: the campaign's message to the contact on that number, its `variant` (None: a
    voice note or a poll, which have none) personalised for them."""
    shared = campaign_content(campaign)
    fixed_text = shared.pop("body", "")
    text = personalised(campaign.messages[variant], contact) if variant is not None else fixed_text
    return write_outbound(sending_ticket(contact, connection_id), text, **shared)


def campaign_content(campaign: Campaign) -> dict:
    """OutboundDraft's fields every recipient's message shares: the campaign's poll (its `body` the poll in words), or
    its file."""
    if campaign.poll:
        poll = campaign_poll(campaign)
        return {"body": poll.text(), "message_type": "poll", "poll": poll}
    return media_options(campaign.media_url, campaign.voice_note)


def campaign_poll(campaign: Campaign) -> Poll:
    return Poll(**campaign.poll)  # kept as a message's poll is (`outgoing_for`)


def finish(campaign: Campaign) -> None:
    """No recipient left: completed, or for a cron campaign, scheduled for its next run."""
    now = utcnow()
    if campaign.cron:
        fields = {"status": "scheduled", "scheduled_at": next_cron_time(campaign.cron, campaign.timezone, now)}
    else:
        fields = {"status": "completed", "finished_at": now}
    Campaign.update(**fields, updated_at=now).where(Campaign.id == campaign.id, Campaign.status == "running").execute()


def tick_base(campaign: Campaign, tick: Tick, sending: bool) -> dt.datetime:
    """Where the next tick's delay counts from: when this tick was due, so the time a tick spends
    late (the delay queue, the worker's polling, this tick's work) is not added to every interval
    and the rate holds; a tick far behind (a pause, an outage) makes up at most `CATCH_UP_SECONDS`."""
    now = utcnow()
    if not sending or campaign.next_pump_at is None:
        return now
    return max(campaign.next_pump_at, now - dt.timedelta(seconds=max(tick.delay, CATCH_UP_SECONDS)))


@dramatiq.actor(queue_name="campaigns", max_retries=20, min_backoff=500, max_backoff=30_000)
def pump_campaign(campaign_id: int, seq: int) -> None:
    """One tick of the campaign's pump, numbered `seq`; see the module's docstring."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is None or campaign.status != "running" or campaign.pump_seq != seq:
        return  # paused, over, or a tick that ran already (a lost successor is `restart_stalled_campaigns`' job)
    tick = plan_tick(campaign.pacing(), campaign.dispatched)
    budget = sending_budget(campaign, tick.batch)
    delay = tick.delay + random.uniform(0, budget.jitter) if budget.slots else budget.wait
    next_at = tick_base(campaign, tick, bool(budget.slots)) + dt.timedelta(seconds=delay)
    claimed: list[tuple[int, int]] = []
    announcements = Announcements()
    try:
        with database.atomic():
            owned = Campaign.update(pump_seq=seq + 1, next_pump_at=next_at).where(
                Campaign.id == campaign_id, Campaign.pump_seq == seq, Campaign.status == "running").execute()
            if not owned:  # paused, cancelled, or another copy of this tick got there first
                return
            claimed = claim_recipients(campaign, len(budget.slots))
            outbounds = write_sends(campaign, claimed, budget.slots)
            Campaign.update(dispatched=Campaign.dispatched + len(claimed)).where(Campaign.id == campaign_id).execute()
            done = len(claimed) < tick.batch and not queued_in_run(campaign).exists()
            if done:  # the last progress, which says so, commits with it; the ticks' progress is only published
                finish(campaign)
                announce_progress(announcements, Campaign.get_by_id(campaign_id))
    finally:
        give_back_unused(budget.unused(len(claimed)))  # all of it when the transaction did not commit
    for outbound in outbounds:
        dispatch_outbound(outbound)
    CAMPAIGN_SENDS.inc(len(outbounds))
    if done:
        announcements.send()
    else:  # after the commit: the report reads the whole ledger, and the next tick's supersedes it
        latest = Campaign.get_by_id(campaign_id)
        publish("campaign:update", latest.company_id, progress_of(latest), connection_ids=rotation_of(latest))
    if not done:
        wait_ms = (next_at - utcnow()).total_seconds() * 1000
        pump_campaign.send_with_options(args=(campaign_id, seq + 1), delay=max(0, int(wait_ms)))


@dramatiq.actor(queue_name="campaigns", max_retries=10)
def cancel_queued_shippings(campaign_id: int) -> dict:
    """A cancelled campaign's recipients not sent yet are cancelled (the pump stopped at the status)."""
    with announcing() as announcements:
        cancelled = CampaignShipping.update(status="cancelled", reason="campaign cancelled", updated_at=utcnow()).where(
            CampaignShipping.campaign == campaign_id, CampaignShipping.status == "queued").execute()
        announce_progress(announcements, Campaign.get_by_id(campaign_id))
    return {"campaignId": campaign_id, "cancelled": cancelled}


def start_campaign(campaign: Campaign, user_id: int | None = None) -> str | None:
    """Run now (from draft, scheduled or failed): fan-out and the pump follow; returns the fan-out's job id,
    or None when the campaign was no longer startable. A cron campaign whose run is over starts its next run;
    one that failed goes on with the run it left."""
    now = utcnow()
    run = {}
    if campaign.cron and campaign.started_at is not None and not queued_in_run(campaign).exists():
        run = {"run": campaign.run + 1, "dispatched": 0}
    started = Campaign.update(status="running", started_at=now, next_pump_at=now, reason=None, updated_at=now,
                              **run).where(
        Campaign.id == campaign.id, Campaign.status.in_(("draft", "scheduled", "failed")),
        Campaign.run == campaign.run).execute()
    if not started:
        return None
    return enqueue_job(fan_out_campaign, campaign.id, company_id=campaign.company_id, user_id=user_id).id


def pause_campaign(campaign_id: int) -> bool:
    """Running → paused: the pump sends nothing more from its next tick; False when it was not running."""
    return bool(Campaign.update(status="paused", updated_at=utcnow()).where(
        Campaign.id == campaign_id, Campaign.status == "running").execute())


def cancel_campaign(campaign_id: int) -> bool:
    """Any unfinished status → cancelled; the shippings not sent yet are then marked by `cancel_queued_shippings`."""
    return bool(Campaign.update(status="cancelled", finished_at=utcnow(), updated_at=utcnow()).where(
        Campaign.id == campaign_id, Campaign.status.in_(("draft", "scheduled", "running", "paused", "failed"))
    ).execute())


def resume_campaign(campaign_id: int) -> bool:
    """Paused → running, and one pump under a new turn number (the old chain's tick, if any, finds it taken)."""
    with database.atomic():
        resumed = Campaign.update(status="running", pump_seq=Campaign.pump_seq + 1, next_pump_at=utcnow(),
                                  reason=None, updated_at=utcnow()).where(
            Campaign.id == campaign_id, Campaign.status == "paused").returning(Campaign.pump_seq).tuples().execute()
        resumed = list(resumed)
    if resumed:
        pump_campaign.send(campaign_id, resumed[0][0])
    return bool(resumed)


def start_due_campaigns(now: dt.datetime | None = None) -> list[int]:
    """Scheduler job: start every scheduled campaign whose time came (each once: a conditional update)."""
    now = now or utcnow()
    started = []
    for campaign in Campaign.select().where(Campaign.status == "scheduled", Campaign.scheduled_at <= now).limit(100):
        if start_campaign(campaign) is not None:
            started.append(campaign.id)
    return started


def restart_stalled_campaigns(now: dt.datetime | None = None) -> list[int]:
    """Scheduler job: a running campaign whose next tick is long overdue lost it (a Redis restart, a crash
    between a commit and a send): fan out again (idempotent), which sends the pump under the current turn."""
    now = now or utcnow()
    stalled = [row.id for row in Campaign.select(Campaign.id).where(
        Campaign.status == "running", Campaign.next_pump_at < now - STALLED_AFTER)]
    for campaign_id in stalled:
        logger.warning("campaign %s: its pump is overdue, restarting it", campaign_id)
        fan_out_campaign.send(campaign_id)
    return stalled


def progress_of(campaign: Campaign) -> dict:
    return {"id": campaign.id, "status": campaign.status, "run": campaign.run, **campaign_report(campaign)}


def announce_progress(announcements: Announcements, campaign: Campaign) -> None:
    """The campaign's progress as `campaign:update`, in the transaction of its change; it belongs to each of its
    numbers."""
    announcements.add("campaign:update", campaign.company_id, progress_of(campaign),
                      connection_ids=rotation_of(campaign))


DELIVERY_RANK = {"sent": 1, "delivered": 2, "read": 3}
VARIANT_FIELDS = ("total", "sent", "delivered", "read", "replied", "failed")  # each variant's, to compare them
REPORT_FIELDS = ("total", "queued", "sent", "delivered", "read", "replied", "failed", "skipped", "cancelled",
                 "optedOut")


def campaign_report(campaign: Campaign, run: int | None = None) -> dict:
    """Counts of one run (the current one unless given) from the ledger and, for those sent, from their messages' receipts (not from send calls).

    sent ≥ delivered ≥ read: a read message was delivered and sent. A row handed to the pipeline whose
    message is not sent yet counts as queued; `optedOut` counts the recipients on the opt-out list now (those
    skipped for it, and those who opted out since, as with a STOP to the campaign); `replied` those who answered.
    A campaign of several variants has the same counts for each (`variants`), so that they can be compared.
    """
    campaign_id, run = campaign.id, run or campaign.run
    counts = dict.fromkeys(REPORT_FIELDS, 0)
    by_variant = {variant: dict.fromkeys(VARIANT_FIELDS, 0) for variant in range(len(campaign.messages))}
    rows = (CampaignShipping.select(CampaignShipping.variant, CampaignShipping.status, Message.status,
                                    peewee.fn.COUNT(CampaignShipping.id))
            .join(Message, peewee.JOIN.LEFT_OUTER, on=(CampaignShipping.message == Message.id))
            .where(CampaignShipping.campaign == campaign_id, CampaignShipping.run == run)
            .group_by(CampaignShipping.variant, CampaignShipping.status, Message.status).tuples())
    for variant, status, message_status, count in rows:
        counted(counts, delivery_status(status, message_status), count)
        if variant in by_variant:
            counted(by_variant[variant], delivery_status(status, message_status), count)
    replies = replied_by_variant(campaign_id, run)
    counts["replied"] = sum(replies.values())
    for variant, replied in replies.items():
        if variant in by_variant:
            by_variant[variant]["replied"] = replied
    if len(by_variant) > 1:
        counts["variants"] = [{"variant": variant, "text": campaign.messages[variant], **shown}
                              for variant, shown in by_variant.items()]
    if campaign.poll:
        counts["poll"] = poll_tally(campaign, run)
    counts["optedOut"] = (CampaignShipping.select().join(Contact, on=(CampaignShipping.contact == Contact.id))
                          .where(CampaignShipping.campaign == campaign_id, CampaignShipping.run == run,
                                 on_opt_out_list()).count())
    return counts


def poll_tally(campaign: Campaign, run: int) -> dict:
    """The recipients' votes on the run's polls: for each option, how many chose it (a person may choose several
    where the poll lets them), and how many voted; each voter's latest vote counts, a withdrawn one not."""
    votes = (PollVote.select(PollVote.options).join(CampaignShipping, on=(PollVote.message == CampaignShipping.message))
             .where(CampaignShipping.campaign == campaign.id, CampaignShipping.run == run, PollVote.voter != OUR_REACTOR))
    chosen = [vote.options for vote in votes if vote.options]
    options = campaign_poll(campaign).options
    return {"voters": len(chosen), "options": [{"name": option, "votes": sum(option in vote for vote in chosen)}
                                               for option in options]}


def counted(counts: dict[str, int], status: str, count: int) -> None:
    """Add `count` recipients of this delivery status: to every rank it reached (a read message was delivered and
    sent), or to its own count."""
    counts["total"] += count
    if status in DELIVERY_RANK:
        for name, rank in DELIVERY_RANK.items():
            counts[name] += count if rank <= DELIVERY_RANK[status] else 0
    elif status in counts:
        counts[status] += count


def replied_by_variant(campaign_id: int, run: int) -> dict[int | None, int]:
    """Recipients who wrote to the company after the campaign's message to them (on any of its numbers), by the
    variant they got."""
    return dict(CampaignShipping.select(CampaignShipping.variant, fn.COUNT(CampaignShipping.id))
                .join(Message, on=(CampaignShipping.message == Message.id))
                .where(CampaignShipping.campaign == campaign_id, CampaignShipping.run == run, replied_after())
                .group_by(CampaignShipping.variant).tuples())


def replied_after() -> peewee.Expression:
    """The recipient wrote to the company after the campaign's message to them: for a query of shippings joined to
    their messages."""
    reply = Message.alias()
    return fn.EXISTS(reply.select(reply.id).where(reply.contact == CampaignShipping.contact, reply.direction == "in",
                                                  reply.created_at > Message.created_at))


def delivery_status(shipping_status: str, message_status: str | None) -> str:
    """A recipient's status as the report and exports show it: the ledger's, or its message's once handed over."""
    if shipping_status != "sent" or message_status is None:
        return shipping_status
    return "queued" if message_status in ("queued", "sending") else message_status
