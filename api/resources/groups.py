"""The WhatsApp groups a connection's number is in (Evolution API's fetchAllGroups, create, updateParticipant,
inviteCode, updateGroupSubject/Description, leaveGroup), under `/api/connections/:id/groups`.

Only the gateway holding the session can ask WhatsApp, so each call answers 202 with a job (workers/groups.py) whose
result is WhatsApp's answer: the groups, the group as it is after a change, what became of each participant, the
invite link. The groups are kept as the company's group contacts (`GET /api/contacts?isGroup=true`), with their members
(`participants`), so that a send or a campaign reaches them. A group is named by its id ("120363012345678901@g.us") or
its digits. For admins and supervisors, and API keys with `groups:write`.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from pydantic import Field, model_validator

from api.endpoint import endpoint
from api.errors import ValidationFailed
from api.media_upload import stored_picture
from api.resources.number_check import connection_to_ask, e164_phones, session_job
from api.schemas import JobAccepted, QuerySchema, Schema
from api.security import current_principal
from workers import groups
from workers.transports.base import PARTICIPANT_ACTIONS, group_id

blueprint = Blueprint("groups", __name__, url_prefix="/api/connections")
MANAGERS = ("super", "admin", "supervisor")
MAX_PARTICIPANTS = 1024  # WhatsApp's largest group
JOB = {"tags": ["groups"], "response": JobAccepted, "status": 202, "roles": MANAGERS, "errors": [404, 409],
       "enqueues": True, "scope": "groups:write"}


class GroupCreate(Schema):
    subject: str = Field(min_length=1, max_length=100, description="the group's name")
    participants: list[str] = Field(min_length=1, max_length=MAX_PARTICIPANTS - 1, description="phones in any form; "
                                    "a number without its country code is read in the company's default country")


class ParticipantsChange(Schema):
    action: Literal[PARTICIPANT_ACTIONS]  # type: ignore[valid-type]
    participants: list[str] = Field(min_length=1, max_length=MAX_PARTICIPANTS, description="phones in any form")


class GroupUpdate(Schema):
    subject: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=2048, description="empty: none")
    announce: bool | None = Field(None, description="only admins send messages (true), or everyone (false); the number "
                                                    "must be an admin")
    locked: bool | None = Field(None, description="only admins change the subject, description and picture (true), or "
                                                  "everyone (false); the number must be an admin")

    @model_validator(mode="after")
    def something_to_change(self) -> GroupUpdate:
        if self.model_dump(exclude_none=True) == {}:
            raise ValueError("send the subject, the description, announce, locked, or several")
        return self


class InviteLinkQuery(QuerySchema):
    reset: bool = Field(False, description="a new link; the old one stops working")


def group_named(raw: str) -> str:
    """The group's id from the path; a 400 for what is no group id."""
    try:
        return group_id(raw)
    except ValueError as error:
        raise ValidationFailed("not a group id", {"groupId": str(error)}) from None


def phones(raw: list[str]) -> list[str]:
    return e164_phones(raw, current_principal().company_id, "participants")


@blueprint.post("/<int:connection_id>/groups/sync")
@endpoint(summary="List the groups the number is in: 202 with a job whose result has each group (subject, "
          "description, participants...); each is kept as a group contact with its participants", **JOB)
def sync_groups(connection_id: int):
    return session_job(connection_to_ask(connection_id), groups.sync_groups)


@blueprint.post("/<int:connection_id>/groups")
@endpoint(summary="Create a group (the number is its admin): 202 with a job whose result has the group and, for each "
          "participant, whether WhatsApp added them", body=GroupCreate, **JOB)
def create_group(connection_id: int, body: GroupCreate):
    participants = phones(body.participants)
    return session_job(connection_to_ask(connection_id), groups.create_group, body.subject, participants)


@blueprint.patch("/<int:connection_id>/groups/<group>")
@endpoint(summary="Change a group's subject, description, or who sends in it and who edits it (Evolution API's "
          "updateSetting): 202 with a job whose result has the group", body=GroupUpdate, **JOB)
def update_group(connection_id: int, group: str, body: GroupUpdate):
    group = group_named(group)
    return session_job(connection_to_ask(connection_id), groups.change_group, group, body.subject, body.description,
                       body.announce, body.locked)


@blueprint.post("/<int:connection_id>/groups/<group>/participants")
@endpoint(summary="Add, remove, promote to admin or demote participants: 202 with a job whose result says, for each, "
          "what became of them (added, removed, promoted, demoted, or not_on_whatsapp, privacy, recently_left, "
          "already_in_group, not_in_group, failed)", body=ParticipantsChange, **JOB)
def change_participants(connection_id: int, group: str, body: ParticipantsChange):
    group, participants = group_named(group), phones(body.participants)
    return session_job(connection_to_ask(connection_id), groups.change_participants, group, body.action, participants)


@blueprint.put("/<int:connection_id>/groups/<group>/picture")
@endpoint(summary="Set a group's picture (multipart `file`, a JPEG or PNG, cut square to 640×640), as Evolution API's "
          "updateGroupPicture: 202 with a job whose result has WhatsApp's `pictureId`; the group's contact shows it",
          upload_media_types=("multipart/form-data",), **JOB)
def set_group_picture(connection_id: int, group: str):
    group, connection = group_named(group), connection_to_ask(connection_id)
    return session_job(connection, groups.set_group_picture, group, stored_picture(connection.company_id))


@blueprint.get("/<int:connection_id>/groups/<group>/invite-link")
@endpoint(summary="The group's invite link (?reset=true: a new one): 202 with a job whose result has `inviteLink`",
          query=InviteLinkQuery, **JOB)
def invite_link(connection_id: int, group: str, query: InviteLinkQuery):
    group = group_named(group)
    return session_job(connection_to_ask(connection_id), groups.group_invite_link, group, query.reset)


@blueprint.post("/<int:connection_id>/groups/<group>/leave")
@endpoint(summary="Leave a group: 202 with a job; its contact and history stay", **JOB)
def leave_group(connection_id: int, group: str):
    group = group_named(group)
    return session_job(connection_to_ask(connection_id), groups.leave_group, group)
