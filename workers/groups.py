"""The WhatsApp groups a connection's number is in, managed as Evolution API's group calls do: listing them (a sync),
creating one, adding, removing, promoting and demoting participants, its invite link, subject and description,
leaving it.

Only the gateway holding the session can ask, so each runs on the connection's send queue (like the number check),
and its answer is the job's result. What is kept: each group the session sees is a group contact of the company
(`phone` its id, `name` its subject) with its members (`Contact.participants`), so that it shows with the contacts,
and campaigns and sends can reach it; when the session hears that someone renamed a group or changed its members,
the group is kept as it is then (`handle_group_changed`). WhatsApp's refusal for good (not in the group, not its
admin) fails the job at once, saying why; a session that is down is retried.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dramatiq

from api.schemas import iso_utc
from db.base import database, utcnow
from db.connections import Connection
from db.contacts import Contact
from wharf.media import media_store
from workers.chat_actions import enqueue_on_session, live_session
from workers.contact_events import announce_contact_change
from workers.jobs import asked_before
from workers.profile_pictures import keep_picture
from workers.transports.base import GroupInfo, TransportError, e164_or_id

if TYPE_CHECKING:
    from workers.gateway.sessions import ManagedSession


class GroupRefused(Exception):
    """WhatsApp refused for good (`reason_code` says why: not_in_group, not_admin...): not retried."""

    def __init__(self, reason_code: str | None, message: str) -> None:
        super().__init__(f"{reason_code or 'refused'}: {message}")
        self.reason_code = reason_code


OPTIONS: dict[str, Any] = {"queue_name": "gateway", "max_retries": 5, "min_backoff": 1000, "max_backoff": 60_000,
                           "time_limit": 120_000, "throws": (GroupRefused,)}


CLOCK_SKEW_SECONDS = 60  # WhatsApp's clock against ours, when it says a group was made


@contextlib.contextmanager
def group_session(connection_id: int) -> Iterator[ManagedSession]:
    """The connection's session in this gateway, WhatsApp's refusal for good a GroupRefused."""
    try:
        yield live_session(connection_id)
    except TransportError as error:
        if not error.permanent:
            raise
        raise GroupRefused(error.reason_code, str(error)) from error


@dramatiq.actor(**OPTIONS)
def sync_groups(connection_id: int, company_id: int) -> dict:
    """Every group the session is in, each kept as a group contact with its members."""
    with group_session(connection_id) as session:
        groups = session.groups()
    contact_ids = keep_groups(company_id, groups)
    return {"connectionId": connection_id, "count": len(groups),
            "groups": [group_json(group, contact_ids[group.id]) for group in groups]}


@dramatiq.actor(**OPTIONS)
def create_group(connection_id: int, company_id: int, subject: str, phones: list[str]) -> dict:
    """A new group. WhatsApp makes one each time it is asked, so a message run again after it asked (a worker that
    died in the call, a session that dropped before WhatsApp answered) first looks among the session's groups for
    the one that ask made (its subject, made since); it asks again only if there is none."""
    participants = [phone.lstrip("+") for phone in phones]
    with group_session(connection_id) as session:
        asked_at = asked_before("group-create")
        made = made_since(session.groups(), subject, asked_at) if asked_at is not None else None
        if made is None:
            group, outcomes = session.create_group(subject, participants)
        else:
            members = {member.address for member in made.participants}
            group, outcomes = made, {number: "added" if number in members else "failed" for number in participants}
    contact_ids = keep_groups(company_id, [group])
    return {"connectionId": connection_id, "group": group_json(group, contact_ids[group.id]),
            "participants": outcomes_json(outcomes)}


@dramatiq.actor(**OPTIONS)
def change_participants(connection_id: int, company_id: int, group_id: str, action: str, phones: list[str]) -> dict:
    """Add, remove, promote or demote; the group's members kept as they are after."""
    with group_session(connection_id) as session:
        outcomes = session.update_participants(group_id, [phone.lstrip("+") for phone in phones], action)
        group = session.group_info(group_id)
    contact_ids = keep_groups(company_id, [group])
    return {"connectionId": connection_id, "group": group_json(group, contact_ids[group.id]), "action": action,
            "participants": outcomes_json(outcomes)}


@dramatiq.actor(**OPTIONS)
def change_group(connection_id: int, company_id: int, group_id: str, subject: str | None,
                 description: str | None, announce: bool | None = None, locked: bool | None = None) -> dict:
    """A new subject, description, who sends (`announce`) or who edits (`locked`), each given; the group kept as it
    is after. The settings first: a group being locked is changed by its admins only from then on anyway."""
    with group_session(connection_id) as session:
        if announce is not None:
            session.set_group_announce(group_id, announce)
        if locked is not None:
            session.set_group_locked(group_id, locked)
        if subject is not None:
            session.set_group_subject(group_id, subject)
        if description is not None:
            session.set_group_description(group_id, description)
        group = session.group_info(group_id)
    contact_ids = keep_groups(company_id, [group])
    return {"connectionId": connection_id, "group": group_json(group, contact_ids[group.id])}


@dramatiq.actor(**OPTIONS)
def set_group_picture(connection_id: int, company_id: int, group_id: str, key: str) -> dict:
    """The picture stored under `key` (a square JPEG) shown as the group's, and kept as its contact's picture. A run
    that finds the file gone (another picture replaced it since) sets nothing; one WhatsApp refuses deletes it."""
    try:
        jpeg = media_store().read(key)
    except FileNotFoundError:
        return {"connectionId": connection_id, "groupId": group_id, "pictureId": None, "replaced": True}
    try:
        with group_session(connection_id) as session:
            picture_id = session.set_group_picture(group_id, jpeg)
    except GroupRefused:
        media_store().delete(key)
        raise
    group = Contact.get_or_none(Contact.company == company_id, Contact.phone == group_id)
    if group is None or not keep_picture(group.id, key, picture_id, utcnow()):
        media_store().delete(key)
    return {"connectionId": connection_id, "groupId": group_id, "pictureId": picture_id}


@dramatiq.actor(**OPTIONS)
def group_invite_link(connection_id: int, company_id: int, group_id: str, reset: bool) -> dict:
    with group_session(connection_id) as session:
        link = session.group_invite_link(group_id, reset)
    return {"connectionId": connection_id, "groupId": group_id, "inviteLink": link, "reset": reset}


@dramatiq.actor(**OPTIONS)
def leave_group(connection_id: int, company_id: int, group_id: str) -> dict:
    """Out of the group: its contact stays (with its history), its members no longer known. Out already is done too
    (a leave run again after a crash finds it so)."""
    try:
        with group_session(connection_id) as session:
            session.leave_group(group_id)
    except GroupRefused as refused:
        if refused.reason_code != "not_in_group":
            raise
    forget_members(company_id, group_id)
    return {"connectionId": connection_id, "groupId": group_id, "left": True}


@dramatiq.actor(queue_name="inbound", max_retries=10)
def handle_group_changed(event: dict) -> dict:
    """Someone changed a group of the connection's. A new subject is its contact's name at once (a group that has
    not written yet gets it when it does). A change of its members has the session read the group again
    (`refresh_group`): kept as WhatsApp shows it then, changes that come twice or out of order end the same."""
    connection = Connection.get_or_none(Connection.id == event["connection_id"])
    if connection is None:
        return {"skipped": "connection deleted"}
    renamed = []
    if event["name"]:
        with database.atomic():  # the renamed ids read before the commit (SQLite insists)
            renamed = [contact_id for (contact_id,) in Contact.update(name=event["name"], updated_at=utcnow()).where(
                Contact.company == connection.company_id, Contact.phone == event["chat"],
                Contact.is_group == True, Contact.name != event["name"]).returning(Contact.id).tuples().execute()]  # noqa: E712
        for contact_id in renamed:
            announce_contact_change(contact_id)
    if event["members_changed"]:
        enqueue_on_session(refresh_group, connection.id, event["chat"])
    return {"renamed": len(renamed), "refreshing": event["members_changed"]}


@dramatiq.actor(**OPTIONS)
def refresh_group(connection_id: int, group_id: str) -> dict:
    """Keep the group as WhatsApp shows it now (a group contact with its members); one the number is no longer in
    (it left, or was removed) keeps its contact and history, its members no longer known."""
    connection = Connection.get_or_none(Connection.id == connection_id)
    if connection is None:
        return {"skipped": "connection deleted"}
    try:
        with group_session(connection_id) as session:
            group = session.group_info(group_id)
    except GroupRefused:
        forget_members(connection.company_id, group_id)
        return {"groupId": group_id, "left": True}
    keep_groups(connection.company_id, [group])
    return {"groupId": group_id, "participants": len(group.participants)}


def forget_members(company_id: int, group_id: str) -> None:
    with database.atomic():  # the ids read before the commit (SQLite insists)
        forgotten = [contact_id for (contact_id,) in Contact.update(participants=None, updated_at=utcnow()).where(
            Contact.company == company_id, Contact.phone == group_id, Contact.is_group == True,  # noqa: E712
            Contact.participants.is_null(False)).returning(Contact.id).tuples().execute()]
    for contact_id in forgotten:
        announce_contact_change(contact_id)


def made_since(groups: list[GroupInfo], subject: str, since: float) -> GroupInfo | None:
    return next((group for group in groups
                 if group.subject == subject and (group.created_at or 0) >= since - CLOCK_SKEW_SECONDS), None)


def keep_groups(company_id: int, groups: list[GroupInfo]) -> dict[str, int]:
    """Each group as the company's group contact, its name the subject and its members as WhatsApp shows them now;
    {group id: contact id}. Clients hear of each (`contact:update`)."""
    now = utcnow()
    with database.atomic():
        for group in groups:
            fields = {Contact.name: group.subject, Contact.participants: members_json(group), Contact.updated_at: now}
            Contact.insert({Contact.company: company_id, Contact.phone: group.id, Contact.is_group: True,
                            Contact.created_at: now, **fields}).on_conflict(
                conflict_target=[Contact.company, Contact.phone], update=fields).execute()
    kept = dict(Contact.select(Contact.phone, Contact.id).where(
        Contact.company == company_id, Contact.phone.in_([group.id for group in groups])).tuples())
    for contact_id in kept.values():
        announce_contact_change(contact_id)
    return kept


def members_json(group: GroupInfo) -> list[dict]:
    return [{"phone": e164_or_id(member.address), "admin": member.admin, "superAdmin": member.superadmin}
            for member in group.participants]


def group_json(group: GroupInfo, contact_id: int) -> dict:
    created = dt.datetime.fromtimestamp(group.created_at, dt.UTC) if group.created_at else None
    return {"id": group.id, "contactId": contact_id, "subject": group.subject, "description": group.description,
            "owner": e164_or_id(group.owner) if group.owner else None, "createdAt": iso_utc(created),
            "announce": group.announce, "locked": group.locked, "participants": members_json(group)}


def outcomes_json(outcomes: dict[str, str]) -> list[dict]:
    """What became of each participant asked for, in order: "added" (or removed, promoted, demoted), or why not."""
    return [{"phone": e164_or_id(address), "result": outcome} for address, outcome in outcomes.items()]
