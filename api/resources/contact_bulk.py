"""Bulk contact actions, for marketers shaping audiences (Chatwoot's and Whaticket's contact bulk actions): one action
on up to 1,000 contacts at once, in one transaction: tag or untag them, put them in a contact list or take them out,
give them to an agent, block or unblock them, delete them.

What the body names (tags, the list, the agent) is checked first: a 400 or 404 there changes nothing. A contact id
that is not the company's is `failed` (not found), the others are `done`. Each contact changed is announced
(`contact:update`, or `contact:delete`); blocking one blocks it on WhatsApp too, as the contact's own PATCH does.
Giving contacts to an agent and deleting them are for admins and supervisors (and programs), as they are one by one.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from pydantic import Field, model_validator

from api.contact_json import contact_json
from api.endpoint import endpoint
from api.errors import Forbidden
from api.resources.contacts import BULK_ROLES
from api.resources.queues import owned_ids
from api.schemas import OutSchema, Schema
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import utcnow
from db.contact_lists import ContactList, ContactListItem
from db.contacts import Contact, ContactTag, Tag
from db.users import User
from workers.contact_blocks import block_on_whatsapp
from workers.events import announcing

blueprint = Blueprint("contact_bulk", __name__)
MOST_CONTACTS = 1000
ACTIONS = ("add_tags", "remove_tags", "add_to_list", "remove_from_list", "set_owner", "block", "unblock", "delete")
MANAGERS_ONLY = ("set_owner", "delete")


class ContactBulkIn(Schema):
    contact_ids: list[int] = Field(min_length=1, max_length=MOST_CONTACTS, description="an id given twice counts once")
    action: Literal[ACTIONS]  # type: ignore[valid-type]
    tag_ids: list[int] | None = Field(None, min_length=1, max_length=100, description="add_tags, remove_tags")
    list_id: int | None = Field(None, description="add_to_list, remove_from_list")
    owner_id: int | None = Field(None, description="set_owner: the agent whose contacts they become; null: nobody's")

    @model_validator(mode="after")
    def fields_of_the_action(self) -> ContactBulkIn:
        needs = {"add_tags": "tag_ids", "remove_tags": "tag_ids", "add_to_list": "list_id",
                 "remove_from_list": "list_id"}.get(self.action)
        if needs is not None and getattr(self, needs) is None:
            raise ValueError(f"{self.action} needs {'tagIds' if needs == 'tag_ids' else 'listId'}")
        return self


class ContactBulkFailure(OutSchema):
    contact_id: int
    error: str
    message: str
    status_code: int


class ContactBulkOut(OutSchema):
    done: list[int]
    failed: list[ContactBulkFailure]


@blueprint.post("/api/contacts/bulk")
@endpoint(summary="One action (add_tags, remove_tags, add_to_list, remove_from_list, set_owner, block, unblock, "
          "delete) on up to 1,000 contacts at once: `done` lists those it reached, `failed` those not found",
          tags=["contacts"], body=ContactBulkIn, response=ContactBulkOut, errors=[403, 404],
          scope="contacts:write")
def act_on_contacts(body: ContactBulkIn):
    if body.action in MANAGERS_ONLY and current_principal().user is not None and \
            current_principal().role not in BULK_ROLES:
        raise Forbidden(f"only admins and supervisors {body.action.replace('_', ' ')} in bulk", "insufficient_role")
    wanted = list(dict.fromkeys(body.contact_ids))
    tag_ids = owned_ids(Tag, body.tag_ids, "tagIds") if body.tag_ids else []
    if body.list_id is not None:
        get_owned(ContactList, body.list_id, "contact list")
    if body.action == "set_owner" and body.owner_id is not None:
        owned_ids(User, [body.owner_id], "ownerId")
    with announcing() as announcements:
        before = list(owned(Contact).where(Contact.id.in_(wanted)))
        ids = [contact.id for contact in before]
        if ids:
            apply(body, ids, tag_ids)
        after = before if body.action == "delete" else list(Contact.select().where(Contact.id.in_(ids)))
        event = "contact:delete" if body.action == "delete" else "contact:update"
        for contact in after:
            announcements.add(event, contact.company_id, contact_json(contact))
    was_blocked = {contact.id: contact.blocked for contact in before}
    for contact in after:  # WhatsApp blocks or unblocks those whose block changed, as one by one
        if body.action in ("block", "unblock") and contact.blocked != was_blocked[contact.id]:
            block_on_whatsapp(contact)
    found = set(ids)
    missing = [contact_id for contact_id in wanted if contact_id not in found]
    return ContactBulkOut(done=ids, failed=[ContactBulkFailure(contact_id=contact_id, error="not_found",
                                                               message="contact not found", status_code=404)
                                            for contact_id in missing])


def apply(body: ContactBulkIn, ids: list[int], tag_ids: list[int]) -> None:
    """The action on the contacts `ids` (the company's), in set statements."""
    action = body.action
    if action == "add_tags":
        ContactTag.insert_many([{"contact": contact_id, "tag": tag_id} for contact_id in ids for tag_id in tag_ids]
                               ).on_conflict_ignore().execute()
    elif action == "remove_tags":
        ContactTag.delete().where(ContactTag.contact.in_(ids), ContactTag.tag.in_(tag_ids)).execute()
    elif action == "add_to_list":
        ContactListItem.insert_many([{"contact_list": body.list_id, "contact": contact_id} for contact_id in ids]
                                    ).on_conflict_ignore().execute()
    elif action == "remove_from_list":
        ContactListItem.delete().where(ContactListItem.contact_list == body.list_id,
                                       ContactListItem.contact.in_(ids)).execute()
    elif action == "set_owner":
        Contact.update(owner=body.owner_id, updated_at=utcnow()).where(Contact.id.in_(ids)).execute()
    elif action in ("block", "unblock"):
        Contact.update(blocked=action == "block", updated_at=utcnow()).where(Contact.id.in_(ids)).execute()
    else:
        Contact.delete().where(Contact.id.in_(ids)).execute()
