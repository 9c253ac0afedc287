"""Campaigns: CRUD, start/pause/resume/cancel (each a status change the workers act on), the report
counted from receipts, and the per-recipient ledger as a page or a CSV.

Starting only changes the status and enqueues the fan-out; the pump stops at a paused or cancelled
campaign on its next tick, so none of these handlers touches a recipient.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

import peewee
from flask import Blueprint
from pydantic import Field, StringConstraints, field_validator, model_validator
from pydantic.alias_generators import to_camel

from api.audit import log_change, snapshot
from api.csv_export import csv_download
from api.endpoint import endpoint
from api.errors import Conflict, ValidationFailed
from api.pagination import paginate
from api.plan_limits import enforce_plan_limit
from api.resources.contact_fields import CONTACT_FIELDS
from api.resources.messages import PollIn, SendOut, contact_blocked, recipient_phone
from api.resources.queues import owned_ids
from api.schemas import Int32, OutSchema, PageQuery, QuerySchema, Schema, UtcDateTime, UtcDateTimeIn, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import database, holds, utcnow
from db.campaigns import (
    CAMPAIGN_STATUSES,
    MAX_VARIANTS,
    SHIPPING_STATUSES,
    Campaign,
    CampaignShipping,
    rotation_of,
)
from db.company_settings import CampaignThrottle, Timezone, company_setting
from db.connections import Connection
from db.contact_lists import ContactList
from db.contacts import Contact, Tag
from db.messages import Message
from db.schedules import is_valid_cron, next_cron_time
from workers.campaigns import (
    REPORT_FIELDS,
    audience_reach,
    campaign_report,
    cancel_campaign,
    cancel_queued_shippings,
    delivery_status,
    pause_campaign,
    replied_after,
    resume_campaign,
    start_campaign,
    write_campaign_message,
)
from workers.inbound import upsert_contact
from workers.jobs import enqueue_job
from workers.messages import dispatch_outbound

blueprint = Blueprint("campaigns", __name__, url_prefix="/api/campaigns")
MANAGERS = ("super", "admin", "supervisor")
SCOPE = "campaigns:write"
EDITABLE = ("draft", "scheduled", "paused")
MAX_CONTACT_IDS = 10_000
MAX_ROTATION = 20


def valid_cron(cron: str | None) -> str | None:
    if cron is not None and not is_valid_cron(cron):
        raise ValueError("not a valid cron expression (five fields: minute hour day month weekday)")
    return cron


class AudienceField(Schema):
    key: str = Field(max_length=50, description="a contact field's key")
    values: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20, description="any of these, ignoring case and accents (a boolean: true or false)")


class CampaignFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    connection_id: int | None = None
    connection_ids: list[int] | None = Field(None, min_length=1, max_length=MAX_ROTATION,
                                             description="a rotation: each send goes out on the next of these "
                                                         "numbers that is connected and within its send limits")
    contact_list_id: int | None = None
    tag_id: int | None = None
    contact_ids: list[int] | None = Field(None, max_length=MAX_CONTACT_IDS)
    audience_field: AudienceField | None = Field(None, description="narrows the audience to the contacts whose "
                                                 "contact field holds one of its values (alone: every such contact "
                                                 "of the company), as Chatwoot's segments")
    messages: list[str] | None = Field(None, max_length=MAX_VARIANTS,
                                       description="1 to 5 variants, one picked at random per recipient; none for a "
                                                   "voice note")
    media_url: str | None = Field(None, pattern=r"^https?://", max_length=2048)
    voice_note: bool = Field(False, description="send mediaUrl's audio as a voice note, made Ogg/Opus from any "
                                                      "audio when fetched; it goes without text (no messages)")
    poll: PollIn | None = Field(None, description="a poll each recipient votes on, instead of messages (no file); the "
                                                  "report tallies the votes")
    scheduled_at: UtcDateTimeIn | None = None
    cron: str | None = Field(None, max_length=100)
    timezone: Timezone | None = None
    throttle: CampaignThrottle | None = Field(None, description="what it leaves out, a new campaign takes from the "
                                                                "company's campaignThrottle setting; null: that setting")

    _cron = field_validator("cron")(valid_cron)

    @field_validator("messages")
    @classmethod
    def non_empty_variants(cls, messages: list[str] | None) -> list[str] | None:
        if messages is not None and any(not text.strip() or len(text) > 4096 for text in messages):
            raise ValueError("each variant is 1 to 4096 characters")
        return messages


class CampaignCreate(CampaignFields):
    name: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def sends_on_a_number(self) -> CampaignCreate:
        if self.connection_id is None and not self.connection_ids:
            raise ValueError("give connectionId, or connectionIds for a rotation")
        return self


class CampaignOut(OutSchema):
    id: int
    name: str
    connection_id: int | None
    connection_ids: list[int] | None
    contact_list_id: int | None
    tag_id: int | None
    contact_ids: list[int] | None
    audience_field: AudienceField | None
    messages: list[str]
    media_url: str | None
    voice_note: bool
    poll: CampaignPoll | None
    scheduled_at: UtcDateTime | None
    cron: str | None
    timezone: str
    throttle: dict
    status: str
    run: int = Field(description="the current run: a cron campaign's every run sends to the audience again")
    reason: str | None
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    created_at: UtcDateTime
    updated_at: UtcDateTime


class CampaignAccepted(CampaignOut):
    job_id: str | None = None


class CampaignQuery(PageQuery):
    status: Literal[CAMPAIGN_STATUSES] | None = None  # type: ignore[valid-type]
    search: str | None = Field(None, max_length=100)


class RunQuery(QuerySchema):
    run: Int32 | None = Field(None, ge=1, description="which run of a cron campaign (default: the current one)")


class PollOptionTally(OutSchema):
    name: str
    votes: int


class PollTally(OutSchema):
    voters: int
    options: list[PollOptionTally]


class CampaignPoll(OutSchema):
    name: str
    options: list[str]
    selectable_count: int


class VariantReport(OutSchema):
    variant: int = Field(description="its place in `messages`, from 0")
    text: str
    total: int
    sent: int
    delivered: int
    read: int
    replied: int
    failed: int


class ReportOut(OutSchema):
    run: int
    total: int
    queued: int
    sent: int = Field(description="sent by the gateway, including those delivered and read since")
    delivered: int = Field(description="delivery receipts, including those read since")
    read: int
    replied: int = Field(description="recipients who wrote to us after the campaign's message")
    failed: int
    skipped: int
    cancelled: int
    opted_out: int
    poll: PollTally | None = Field(None, description="a poll campaign's votes: how many recipients voted, and per "
                                                    "option how many chose it (their latest vote)")
    variants: list[VariantReport] | None = Field(None, description="a campaign of several variants: the same counts "
                                                                  "for each, to compare them")


class ShippingOut(OutSchema):
    id: int
    contact_id: int
    name: str
    phone: str
    status: str
    reason: str | None
    message_id: int | None
    variant: int | None
    sent_at: UtcDateTime | None


class ShippingFilters(RunQuery):
    replied: bool | None = Field(None, description="true: the recipients who wrote after the campaign's message to "
                                                   "them; false: those who did not")


class ShippingQuery(PageQuery, ShippingFilters):
    status: Literal[SHIPPING_STATUSES] | None = None  # type: ignore[valid-type]


def campaign_json(campaign: Campaign, job_id: str | None = None) -> dict:
    return CampaignAccepted.model_validate({**snapshot(campaign), "connection_id": campaign.connection_id,
                                            "contact_list_id": campaign.contact_list_id, "tag_id": campaign.tag_id,
                                            "throttle": campaign.pacing(), "job_id": job_id,
                                            "created_at": campaign.created_at,
                                            "updated_at": campaign.updated_at}).to_json()


def pacing_of(campaign: Campaign, given: CampaignThrottle | None) -> dict:
    """The throttle to store, whole: the fields given over the campaign's own (a new one's, or one set back to
    null: the company's default), so that a later change of the default does not change a campaign's pace."""
    own = campaign.throttle if given is not None else None
    base = own or company_setting(current_principal().company_id, "campaign_throttle")
    fields = given.model_dump(by_alias=True, exclude_unset=True) if given is not None else {}
    return CampaignThrottle.model_validate({**base, **fields}).model_dump(by_alias=True)


def save_campaign(campaign: Campaign, body: CampaignFields) -> None:
    required = ("name", "connection_id", "messages", "timezone")
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k not in required}
    for field, model in (("connection_id", Connection), ("contact_list_id", ContactList), ("tag_id", Tag)):
        if changes.get(field) is not None:
            owned_ids(model, [changes[field]], to_camel(field))
    if changes.get("connection_ids"):
        changes["connection_ids"] = owned_ids(Connection, changes["connection_ids"], "connectionIds")
        changes.setdefault("connection_id", changes["connection_ids"][0])
    if changes.get("contact_ids"):
        changes["contact_ids"] = owned_ids(Contact, changes["contact_ids"], "contactIds")
    if changes.get("audience_field"):
        CONTACT_FIELDS.known(changes["audience_field"]["key"], "audienceField.key")
    if changes.get("poll") is not None:  # whole, as a message's poll is kept
        changes["poll"] = dataclasses.asdict(body.poll.poll())
    if "throttle" in changes or not campaign.throttle:
        changes["throttle"] = pacing_of(campaign, body.throttle)
    for name, value in changes.items():
        setattr(campaign, name, value)
    check_content(campaign)
    campaign.save()


def check_content(campaign: Campaign) -> None:
    """A campaign says something: 1 to 5 text variants, with or without a file, or a voice note, which WhatsApp
    sends without text, or a poll, which goes alone."""
    if campaign.poll:
        if clashes := [field for field, given in (("messages", campaign.messages), ("mediaUrl", campaign.media_url),
                                                   ("voiceNote", campaign.voice_note)) if given]:
            raise ValidationFailed("a poll goes alone: no messages, no file", dict.fromkeys(clashes, "not with a poll"))
        return
    if not campaign.voice_note and not campaign.messages:
        raise ValidationFailed("say something: 1 to 5 variants in messages", {"messages": "give 1 to 5 variants"})
    if campaign.voice_note and not campaign.media_url:
        raise ValidationFailed("a voice note needs its audio: a mediaUrl", {"mediaUrl": "missing"})
    if campaign.voice_note and campaign.messages:
        raise ValidationFailed("a voice note goes without text", {"messages": "not with voiceNote"})


def editable(campaign_id: int) -> Campaign:
    campaign = get_owned(Campaign, campaign_id, "campaign")
    if campaign.status not in EDITABLE:
        raise Conflict(f"a {campaign.status} campaign cannot be changed", {"status": campaign.status})
    return campaign


@blueprint.get("")
@endpoint(summary="List the company's campaigns", tags=["campaigns"], query=CampaignQuery,
          response=page_of(CampaignOut), roles=MANAGERS, scope=SCOPE)
def list_campaigns(query: CampaignQuery):
    campaigns = owned(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if query.status:
        campaigns = campaigns.where(Campaign.status == query.status)
    if query.search:
        campaigns = campaigns.where(holds(query.search, Campaign.name))
    return paginate(campaigns, query, campaign_json)


@blueprint.post("")
@endpoint(summary="Create a campaign (a draft until started)", tags=["campaigns"], body=CampaignCreate,
          response=CampaignOut, status=201, roles=MANAGERS, errors=[403, 404], scope=SCOPE)
def create_campaign(body: CampaignCreate):
    company_id = current_principal().company_id
    with database.atomic():
        enforce_plan_limit(company_id, "campaigns", owned(Campaign))
        campaign = Campaign(company=company_id, timezone="UTC")
        save_campaign(campaign, body)
        log_change("created", campaign)
    return campaign_json(campaign)


@blueprint.get("/<int:campaign_id>")
@endpoint(summary="Show a campaign", tags=["campaigns"], response=CampaignOut, roles=MANAGERS, errors=[404],
          scope=SCOPE)
def show_campaign(campaign_id: int):
    return campaign_json(get_owned(Campaign, campaign_id, "campaign"))


@blueprint.patch("/<int:campaign_id>")
@endpoint(summary="Change a draft, scheduled or paused campaign", tags=["campaigns"], body=CampaignFields,
          response=CampaignOut, roles=MANAGERS, errors=[404, 409], scope=SCOPE)
def update_campaign(campaign_id: int, body: CampaignFields):
    campaign = editable(campaign_id)
    before = snapshot(campaign)
    save_campaign(campaign, body)
    log_change("updated", campaign, before)
    return campaign_json(campaign)


@blueprint.delete("/<int:campaign_id>")
@endpoint(summary="Delete a campaign that is not running, with its ledger", tags=["campaigns"], status=204,
          roles=MANAGERS, errors=[404, 409], scope=SCOPE)
def delete_campaign(campaign_id: int):
    campaign = get_owned(Campaign, campaign_id, "campaign")
    if campaign.status == "running":
        raise Conflict("pause or cancel the campaign first", {"status": campaign.status})
    log_change("deleted", campaign)
    campaign.delete_instance()


def first_run_at(campaign: Campaign, now: dt.datetime) -> dt.datetime | None:
    """When a started campaign runs: its future `scheduledAt`, its cron's next time, or now (None)."""
    if campaign.scheduled_at and campaign.scheduled_at > now:
        return campaign.scheduled_at
    if campaign.cron:
        return next_cron_time(campaign.cron, campaign.timezone, now)
    return None


@blueprint.post("/<int:campaign_id>/start")
@endpoint(summary="Start a campaign: now, or at its scheduledAt or cron time (status scheduled)",
          tags=["campaigns"], response=CampaignAccepted, status=202, roles=MANAGERS, errors=[404, 409],
          enqueues=True, scope=SCOPE)
def start(campaign_id: int):
    campaign = get_owned(Campaign, campaign_id, "campaign")
    if campaign.status not in ("draft", "scheduled", "failed"):
        raise Conflict(f"a {campaign.status} campaign cannot be started", {"status": campaign.status})
    if not (campaign.contact_list_id or campaign.tag_id or campaign.contact_ids or campaign.audience_field):
        raise Conflict("the campaign has no audience",
                       {"audience": "set contactListId, tagId, contactIds or audienceField"})
    now = utcnow()
    run_at = first_run_at(campaign, now) if campaign.status != "scheduled" else None
    job_id = None
    if run_at is not None:
        Campaign.update(status="scheduled", scheduled_at=run_at, updated_at=now).where(
            Campaign.id == campaign_id).execute()
    else:
        principal = current_principal()
        job_id = start_campaign(campaign, principal.user.id if principal.user else None)
    return campaign_json(Campaign.get_by_id(campaign_id), job_id)


class SkippedOut(OutSchema):
    opted_out: int = Field(description="on the company's opt-out list")
    blocked: int
    invalid_number: int = Field(description="a group, or no phone number")
    not_on_whatsapp: int = Field(description="found not on WhatsApp by a check or a send")


class AudienceOut(OutSchema):
    total: int = Field(description="the contacts of its list, its tag and its ids, together")
    reachable: int = Field(description="those it would send to")
    unchecked: int = Field(description="of those, the ones never checked on WhatsApp (POST /api/contacts/"
                                       "check-whatsapp): sent to, and skipped from then on if WhatsApp refuses them")
    skipped: SkippedOut = Field(description="those it would skip, by why")


@blueprint.get("/<int:campaign_id>/audience")
@endpoint(summary="Whom the campaign would reach were it started now: its audience, those it would skip and why, and "
          "those it would send to", tags=["campaigns"], response=AudienceOut, roles=MANAGERS, errors=[404], scope=SCOPE)
def campaign_audience(campaign_id: int):
    return AudienceOut.model_validate(audience_reach(get_owned(Campaign, campaign_id, "campaign"))).to_json()


class CampaignTestIn(Schema):
    to: str = Field(max_length=64, description="the phone to send it to (yours, say); the company's default country "
                                               "applies")
    variant: int | None = Field(None, ge=0, lt=MAX_VARIANTS, description="which of its messages (0: the first, the "
                                "default)")


@blueprint.post("/<int:campaign_id>/test")
@endpoint(summary="Send the campaign's message to one phone as a recipient gets it (filled in for that number's "
          "contact, with its file or poll), on its first number, to look at it before starting; no part of any run "
          "or report", tags=["campaigns"], body=CampaignTestIn, response=SendOut, status=202, roles=MANAGERS,
          errors=[404, 409], enqueues=True, scope=SCOPE)
def test_campaign(campaign_id: int, body: CampaignTestIn):
    campaign = get_owned(Campaign, campaign_id, "campaign")
    variant = (body.variant or 0) if campaign.messages else None
    if variant is not None and variant >= len(campaign.messages):
        raise ValidationFailed("the campaign has no such message", {"variant": f"0 to {len(campaign.messages) - 1}"})
    if not rotation_of(campaign):
        raise Conflict("the campaign has no number to send from", {"connectionId": "none"})
    company_id = current_principal().company_id
    phone = recipient_phone(body.to, company_id)
    with database.atomic():
        contact = upsert_contact(company_id, phone, None, is_group=phone.endswith("@g.us"))
        if contact.blocked:
            raise contact_blocked()
        outbound = write_campaign_message(campaign, contact, rotation_of(campaign)[0], variant)
    dispatch_outbound(outbound)
    return SendOut(id=outbound.message.id, status=outbound.message.status, job_id=outbound.job_id)


def change_status(campaign_id: int, to: str, transition: Callable[[int], bool]) -> Campaign:
    """Apply `transition` (a conditional update: the pump may be changing the row), recorded in the audit
    log; 409 when the campaign's status does not allow it."""
    campaign = get_owned(Campaign, campaign_id, "campaign")
    if not transition(campaign_id):
        raise Conflict(f"a {campaign.status} campaign cannot be {to}", {"status": campaign.status})
    after = Campaign.get_by_id(campaign_id)
    log_change("updated", after, snapshot(campaign))
    return after


@blueprint.post("/<int:campaign_id>/pause")
@endpoint(summary="Pause a running campaign: its pump sends nothing more from its next tick", tags=["campaigns"],
          response=CampaignAccepted, status=202, roles=MANAGERS, errors=[404, 409], enqueues=True, scope=SCOPE)
def pause(campaign_id: int):
    return campaign_json(change_status(campaign_id, "paused", pause_campaign))


@blueprint.post("/<int:campaign_id>/resume")
@endpoint(summary="Resume a paused campaign where it stopped", tags=["campaigns"], response=CampaignAccepted,
          status=202, roles=MANAGERS, errors=[404, 409], enqueues=True, scope=SCOPE)
def resume(campaign_id: int):
    return campaign_json(change_status(campaign_id, "resumed", resume_campaign))


@blueprint.post("/<int:campaign_id>/cancel")
@endpoint(summary="Cancel a campaign: the recipients not sent yet are marked cancelled", tags=["campaigns"],
          response=CampaignAccepted, status=202, roles=MANAGERS, errors=[404, 409], enqueues=True, scope=SCOPE)
def cancel(campaign_id: int):
    campaign = change_status(campaign_id, "cancelled", cancel_campaign)
    job = enqueue_job(cancel_queued_shippings, campaign_id, company_id=campaign.company_id)
    return campaign_json(Campaign.get_by_id(campaign_id), job.id)


@blueprint.get("/<int:campaign_id>/report")
@endpoint(summary="The counts of the campaign's run, from the ledger and the messages' receipts", tags=["campaigns"],
          query=RunQuery, response=ReportOut, roles=MANAGERS, errors=[404], scope=SCOPE)
def report(campaign_id: int, query: RunQuery):
    campaign = get_owned(Campaign, campaign_id, "campaign")
    run = query.run or campaign.run
    counts = campaign_report(campaign, run)
    return ReportOut(run=run, poll=counts.get("poll"), variants=counts.get("variants"),
                     **{("opted_out" if name == "optedOut" else name): counts[name] for name in REPORT_FIELDS})


def shippings_of(campaign: Campaign, run: int | None, status: str | None = None,
                 replied: bool | None = None) -> peewee.ModelSelect:
    rows = (CampaignShipping.select(CampaignShipping, Contact.name, Contact.phone, Message.status.alias("sent_as"))
            .join(Contact, on=(CampaignShipping.contact == Contact.id))
            .join(Message, peewee.JOIN.LEFT_OUTER, on=(CampaignShipping.message == Message.id))
            .where(CampaignShipping.campaign == campaign.id, CampaignShipping.run == (run or campaign.run))
            .order_by(CampaignShipping.id).objects())
    if status in ("queued", "sent", "delivered", "read", "failed"):
        rows = rows.where(Message.status == status) if status != "queued" else rows.where(
            (CampaignShipping.status == "queued") | Message.status.in_(("queued", "sending")))
    elif status:
        rows = rows.where(CampaignShipping.status == status)
    if replied is not None:
        rows = rows.where(replied_after() if replied else ~replied_after())
    return rows


def shipping_json(row) -> dict:
    return ShippingOut.model_validate({
        "id": row.id, "contact_id": row.contact_id, "name": row.name, "phone": row.phone,
        "status": delivery_status(row.status, row.sent_as), "reason": row.reason, "message_id": row.message_id,
        "variant": row.variant, "sent_at": row.sent_at,
    }).to_json()


@blueprint.get("/<int:campaign_id>/shippings")
@endpoint(summary="The campaign's recipients with their status (`status` filters)", tags=["campaigns"],
          query=ShippingQuery, response=page_of(ShippingOut), roles=MANAGERS, errors=[404], scope=SCOPE)
def list_shippings(campaign_id: int, query: ShippingQuery):
    campaign = get_owned(Campaign, campaign_id, "campaign")
    return paginate(shippings_of(campaign, query.run, query.status, query.replied), query, shipping_json)


@blueprint.get("/<int:campaign_id>/shippings.csv")
@endpoint(summary="The campaign's recipients with their status, as CSV", tags=["campaigns"], query=ShippingFilters,
          roles=MANAGERS, errors=[404], scope=SCOPE)
def export_shippings(campaign_id: int, query: ShippingFilters):
    campaign = get_owned(Campaign, campaign_id, "campaign")
    header = ["contactId", "name", "phone", "status", "reason", "messageId", "variant", "sentAt"]
    rows = (
        [row.contact_id, row.name, row.phone, delivery_status(row.status, row.sent_as), row.reason or "",
         row.message_id or "", "" if row.variant is None else row.variant,
         row.sent_at.isoformat() + "Z" if row.sent_at else ""]
        for row in shippings_of(campaign, query.run, replied=query.replied).iterator()
    )
    return csv_download(f"campaign-{campaign_id}.csv", header, rows)
