"""What WhatsApp shows of a contact besides their messages: their profile picture (kept by workers/profile_pictures.py)
and, of a group, its subject, which is the group's name in Wharf (its members' names are on their messages).

Only the gateway holding a session can ask WhatsApp, so `check_contact_details` runs on the connection's send queue,
after the sends waiting there. A contact is checked when they first write, when they write again `REFRESH_AFTER` the
last check (`check_details_of`, after an inbound batch), and when a user asks
(`POST /api/contacts/:id/profile-picture`): one check, one claim (`Contact.profile_pic_checked_at`), whatever it
reads. A group renamed since takes its new name at that check, or at once where the session hears of the rename
(workers/groups.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import dramatiq

from db.base import database, utcnow
from db.contacts import Contact
from workers.chat_actions import OPTIONS, enqueue_on_session, live_session
from workers.contact_events import announce_contact_change
from workers.profile_pictures import check_picture, checked_before
from workers.transports.base import TransportError

if TYPE_CHECKING:
    from workers.gateway.sessions import ManagedSession

logger = logging.getLogger(__name__)
REFRESH_AFTER = dt.timedelta(hours=24)


@dramatiq.actor(**OPTIONS)
def check_contact_details(connection_id: int, contact_id: int) -> dict:
    """Ask WhatsApp for the contact's picture and, of a group, its subject (`name`: none when WhatsApp gave none)."""
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        return {"contactId": contact_id, "skipped": "contact deleted"}
    session = live_session(connection_id)
    found = {"contactId": contact_id, **check_picture(session, contact)}
    if contact.is_group:
        found["name"] = check_subject(session, contact)
    return found


def check_subject(session: ManagedSession, group: Contact) -> str | None:
    """The group's subject, which becomes its name where WhatsApp gives one; a group we are no longer in (a refusal
    for good) keeps the name it had."""
    try:
        subject = session.group_subject(group.phone)
    except TransportError as error:
        if not error.permanent:
            raise
        logger.info("connection %s: no subject of group %s: %s", session.connection_id, group.id, error)
        return None
    if subject and Contact.update(name=subject).where(Contact.id == group.id, Contact.name != subject).execute():
        announce_contact_change(group.id)
    return subject


def check_details_of(connection_id: int, contacts: Iterable[Contact]) -> None:
    """Queue a check of the details of these contacts, who just wrote on the connection, that were never checked or
    not in `REFRESH_AFTER`: read from the rows in hand, so a contact checked lately costs nothing. Each is claimed by
    marking it checked now (a conditional update), so their messages that keep coming do not queue it again."""
    now = utcnow()
    due = {contact.id for contact in contacts
           if contact.profile_pic_checked_at is None or contact.profile_pic_checked_at < now - REFRESH_AFTER}
    if not due:
        return
    with database.atomic():  # the claimed ids read before the commit (SQLite insists)
        claimed = [contact_id for (contact_id,) in Contact.update(profile_pic_checked_at=now).where(
            Contact.id.in_(due), checked_before(now - REFRESH_AFTER)).returning(Contact.id).tuples().execute()]
    for contact_id in claimed:
        enqueue_on_session(check_contact_details, connection_id, contact_id)
