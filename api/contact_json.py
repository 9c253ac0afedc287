"""A contact as clients see it: in the API's answers and in the `contact:*` events (realtime and webhooks), wherever
the change was made (a request, an import, what WhatsApp showed of them: workers/contact_events.py)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, computed_field

from api.schemas import OutSchema, UtcDateTime
from api.ticket_json import TagBrief, WithProfilePicture
from db.contacts import Contact, ContactTag, Tag


class GroupMemberOut(OutSchema):
    phone: str = Field(description="their number in E.164, or WhatsApp's id of one whose number it hides")
    admin: bool
    super_admin: bool = Field(description="the group's creator")


class ContactOut(WithProfilePicture):
    name: str
    phone: str
    email: str | None
    tags: list[TagBrief]
    custom_fields: dict[str, Any]
    blocked: bool
    owner_id: int | None
    is_group: bool
    participants: list[GroupMemberOut] | None = Field(None, description="a group's members as the connection last saw "
                                                      "them (POST /api/connections/:id/groups/sync, or a change made "
                                                      "to the group); null for a contact, or a group never synced")
    on_whatsapp: bool | None = Field(description="whether the number is on WhatsApp, as a session last found it "
                                     "(POST /api/contacts/check-whatsapp, or a send WhatsApp refused); null: unknown")
    whatsapp_checked_at: UtcDateTime | None
    opted_out_at: UtcDateTime | None = Field(None, description="when the contact opted out of campaigns, scheduled "
                                             "messages and flows (POST /api/contacts/:id/opt-in undoes it)")
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @computed_field
    def opted_out(self) -> bool:
        return self.opted_out_at is not None



def tags_by_contact(contact_ids: list[int]) -> dict[int, list[dict]]:
    """{contact id: its tags by name} for many contacts in one query."""
    tags: dict[int, list[dict]] = {contact_id: [] for contact_id in contact_ids}
    rows = (Tag.select(ContactTag.contact, Tag.id, Tag.name, Tag.color).join(ContactTag)
            .where(ContactTag.contact.in_(contact_ids)).order_by(Tag.name).tuples())
    for contact_id, tag_id, name, color in rows:
        tags[contact_id].append({"id": tag_id, "name": name, "color": color})
    return tags


def contact_json(contact: Contact, tags: list[dict] | None = None) -> dict:
    if tags is None:
        tags = tags_by_contact([contact.id])[contact.id]
    columns = {name: getattr(contact, name) for name in ContactOut.model_fields if name != "tags"}
    return ContactOut.model_validate({**columns, "tags": tags}).to_json()
