"""Merging two contacts that are one person (Chatwoot's contact merge): the same customer imported with another number
format, saved twice, or WhatsApp's old eight-digit name of a Brazilian mobile beside the nine-digit one
(migration 043 leaves such twins for a person to tell apart).

`POST /api/contacts/:id/merge {contactId}` keeps contact :id, with its phone, and moves to it everything of the other
one, which is then deleted: its tickets with their messages, its leads, schedules, flow sessions, campaign shippings,
notes, tags and list memberships. The kept contact's own details win; the other's fill what it lacks (name, e-mail, custom
fields, owner, picture). What protects the person carries over: blocked if either was, opted out if either was. In
one transaction, both contacts locked, so a message that comes meanwhile waits and then finds the kept contact.
Refused (409) while both have a live ticket on the same number (close one first: WhatsApp has one chat per number),
and for groups. Admins and supervisors, and API keys with `contacts:write`.
"""

from __future__ import annotations

import peewee
from flask import Blueprint
from pydantic import Field

from api.contact_json import ContactOut, contact_json
from api.endpoint import endpoint
from api.errors import Conflict, NotFound, ValidationFailed
from api.resources.contacts import DELETERS
from api.schemas import Schema
from api.scoping import owned
from api.ticket_json import ticket_out
from db.base import locked
from db.campaigns import CampaignShipping
from db.contact_lists import ContactListItem
from db.contacts import Contact, ContactNote, ContactTag
from db.flows import FlowSession
from db.leads import Lead
from db.messages import Message
from db.opt_outs import OptOut, listed
from db.schedules import Schedule
from db.tickets import Ticket
from workers.contact_blocks import block_on_whatsapp
from workers.events import Announcements, announcing

blueprint = Blueprint("contact_merge", __name__, url_prefix="/api/contacts")
# The rows that are the contact's by a plain foreign key, moved as they are
MOVED_WHOLE = (Ticket, Message, Lead, Schedule, FlowSession, OptOut, ContactNote)


class MergeIn(Schema):
    contact_id: int = Field(description="the duplicate: merged into this contact, then deleted")


@blueprint.post("/<int:contact_id>/merge")
@endpoint(summary="Merge another contact (the same person) into this one: its tickets, messages, leads, tags, lists "
          "and the rest move here, the details it has that this one lacks too, and it is deleted", tags=["contacts"],
          body=MergeIn, response=ContactOut, roles=DELETERS, errors=[404, 409], scope="contacts:write")
def merge_contacts(contact_id: int, body: MergeIn):
    if body.contact_id == contact_id:
        raise ValidationFailed("a contact is not merged into itself", {"contactId": "the same contact"})
    with announcing() as announcements:
        kept, merged = both_locked(contact_id, body.contact_id)
        was_blocked = kept.blocked
        check_mergeable(kept, merged)
        moved_tickets = [ticket.id for ticket in Ticket.select(Ticket.id).where(Ticket.contact == merged.id)]
        move_rows(kept, merged)
        take_details(kept, merged)
        kept.save()
        deleted = contact_json(merged)
        merged.delete_instance()
        announce_merge(announcements, kept, deleted, moved_tickets)
    if kept.blocked != was_blocked:
        block_on_whatsapp(kept)
    return contact_json(kept)


def both_locked(kept_id: int, merged_id: int) -> tuple[Contact, Contact]:
    """The two contacts (a 404 for one the caller's company has not), locked until the commit in the order of their
    ids, as two merges of the same pair must take them."""
    rows = {contact.id: contact for contact in locked(owned(Contact).where(Contact.id.in_([kept_id, merged_id]))
                                                    .order_by(Contact.id))}
    for contact_id in (kept_id, merged_id):
        if contact_id not in rows:
            raise NotFound("contact")
    return rows[kept_id], rows[merged_id]


def check_mergeable(kept: Contact, merged: Contact) -> None:
    if kept.is_group or merged.is_group:
        raise Conflict("groups are not merged: a group is its WhatsApp id", {"contactId": "a group"})
    kept_live = Ticket.select(Ticket.connection).where(Ticket.contact == kept.id, Ticket.status != "closed")
    clashing = Ticket.select(Ticket.id).where(Ticket.contact == merged.id, Ticket.status != "closed",
                                              Ticket.connection.in_(kept_live))
    if ids := [ticket.id for ticket in clashing]:
        raise Conflict("both contacts have a live ticket on the same number: close one of them first",
                       {"ticketIds": ids})


def move_rows(kept: Contact, merged: Contact) -> None:
    """Everything of the merged contact becomes the kept one's; a tag, list or campaign run they share stays once."""
    for model in MOVED_WHOLE:
        model.update(contact=kept.id).where(model.contact == merged.id).execute()
    for model, kept_fields in ((ContactTag, [ContactTag.tag]),
                               (ContactListItem, [ContactListItem.contact_list, ContactListItem.created_at])):
        model.insert_from(model.select(*kept_fields, peewee.Value(kept.id)).where(model.contact == merged.id),
                          [*kept_fields, model.contact]).on_conflict_ignore().execute()
    twin = CampaignShipping.alias()
    shared_runs = CampaignShipping.select(CampaignShipping.id).join(twin, on=(
        (twin.campaign == CampaignShipping.campaign) & (twin.run == CampaignShipping.run) & (twin.contact == kept.id)
    )).where(CampaignShipping.contact == merged.id)
    CampaignShipping.update(contact=kept.id).where(CampaignShipping.contact == merged.id,
                                                   CampaignShipping.id.not_in(shared_runs)).execute()


def take_details(kept: Contact, merged: Contact) -> None:
    """The kept contact's details win, the merged one's fill the gaps; blocked or opted out if either was."""
    if not kept.name or kept.name == kept.phone:
        kept.name = merged.name or kept.name
    kept.email = kept.email or merged.email
    kept.custom_fields = {**(merged.custom_fields or {}), **(kept.custom_fields or {})}
    kept.owner = kept.owner_id or merged.owner_id
    kept.blocked = kept.blocked or merged.blocked
    kept.opted_out_at = min(filter(None, (kept.opted_out_at, merged.opted_out_at)), default=None)
    if kept.on_whatsapp is None:
        kept.on_whatsapp, kept.whatsapp_checked_at = merged.on_whatsapp, merged.whatsapp_checked_at
    if kept.profile_pic_path is None and merged.profile_pic_path is not None:
        kept.profile_pic_path, kept.profile_pic_id = merged.profile_pic_path, merged.profile_pic_id
    if listed(kept.company_id, merged.phone).exists() and not listed(kept.company_id, kept.phone).exists():
        OptOut.create(company=kept.company_id, phone=kept.phone, contact=kept.id, source="api",
                      reason=f"merged with {merged.phone}, which opted out")


def announce_merge(announcements: Announcements, kept: Contact, deleted: dict, moved_tickets: list[int]) -> None:
    announcements.add("contact:update", kept.company_id, contact_json(kept))
    announcements.add("contact:delete", kept.company_id, deleted)
    for ticket in Ticket.select().where(Ticket.id.in_(moved_tickets)):
        announcements.add("ticket:update", ticket.company_id, ticket_out(ticket).to_json(), ticket=ticket)
