"""The company's opt-out list: who asked for no campaigns, scheduled messages or flows, and how.

A contact opts out by sending a keyword (workers/opt_outs.py) or here, on the company's behalf;
only an explicit opt-in here takes them off the list. Agents can answer an opted-out contact.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint
from pydantic import Field

from api.audit import log_change, snapshot
from api.contact_json import ContactOut
from api.endpoint import endpoint
from api.pagination import paginate
from api.resources.contacts import announce
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from db.contacts import Contact
from db.opt_outs import OptOut, opt_in, opt_out
from workers.events import announcing

blueprint = Blueprint("opt_outs", __name__)


class OptOutIn(Schema):
    reason: str | None = Field(None, max_length=1000)


class OptOutOut(OutSchema):
    id: int
    phone: str
    contact_id: int | None
    source: str = Field(description="keyword (the contact sent one), api or import")
    keyword: str | None
    reason: str | None
    created_at: UtcDateTime


def changed_listing(contact_id: int, change: Callable[[Contact], bool]) -> dict:
    """Apply `change` to the contact (audited when it changed anything); the contact as it is now."""
    contact = get_owned(Contact, contact_id, "contact")
    before = snapshot(contact)
    with announcing() as announcements:
        if change(contact):
            log_change("updated", contact, before)
        return announce(announcements, "contact:update", contact)


@blueprint.post("/api/contacts/<int:contact_id>/opt-out")
@endpoint(
    summary="Opt the contact out of campaigns, scheduled messages and flows",
    tags=["contacts"],
    body=OptOutIn,
    optional_body=True,
    response=ContactOut,
    errors=[404],
    scope="contacts:write",
)
def opt_contact_out(contact_id: int, body: OptOutIn | None):
    return changed_listing(
        contact_id, lambda contact: opt_out(contact, source="api", reason=body and body.reason)
    )


@blueprint.post("/api/contacts/<int:contact_id>/opt-in")
@endpoint(
    summary="Opt the contact back in (only this takes a number off the opt-out list)",
    tags=["contacts"],
    response=ContactOut,
    errors=[404],
    scope="contacts:write",
)
def opt_contact_in(contact_id: int):
    return changed_listing(contact_id, opt_in)


@blueprint.get("/api/opt-outs")
@endpoint(
    summary="The company's opt-out list, newest first",
    tags=["contacts"],
    query=PageQuery,
    response=page_of(OptOutOut),
    scope="contacts:read",
)
def list_opt_outs(query: PageQuery):
    return paginate(
        owned(OptOut).order_by(OptOut.created_at.desc(), OptOut.id.desc()),
        query,
        lambda row: OptOutOut.model_validate(row).to_json(),
    )
