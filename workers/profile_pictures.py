"""Contacts' WhatsApp profile pictures (Whaticket's avatars, Evolution API's `fetchProfilePictureUrl`), kept in the
media store under the contact's company: WhatsApp's links to them expire.

The session asks WhatsApp for a contact's picture (`check_picture`) when it checks the contact's details
(workers/contact_details.py: when they first write, daily after, and on request), on the connection's send queue. A
download there would hold the connection's sends for as long as the CDN takes (the queue has one thread:
workers/remote_media.py), so a new picture is downloaded by `store_profile_picture`, on a queue of the workers.
WhatsApp gives each picture an id: one kept already is not downloaded again. A contact with no picture, or one hidden
from us, keeps none. Any step may run twice, or late: what WhatsApp showed is recorded only over an older check
(`keep_picture`).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import TYPE_CHECKING

import dramatiq
import peewee

from db.base import database, locked, utcnow
from db.contacts import Contact
from wharf.media import MediaRejected, MediaUnavailable, fetch_remote, media_store
from workers.contact_events import announce_contact_change
from workers.transports.base import TransportError

if TYPE_CHECKING:
    from workers.gateway.sessions import ManagedSession

logger = logging.getLogger(__name__)


def checked_before(at: dt.datetime) -> peewee.Expression:
    """WhatsApp was last asked about the contact (its picture, of a group its subject too) before `at`, or never."""
    return Contact.profile_pic_checked_at.is_null() | (Contact.profile_pic_checked_at < at)


def check_picture(session: ManagedSession, contact: Contact) -> dict:
    """Ask WhatsApp for the contact's picture: none is recorded at once, a new one queued to be downloaded. A chat
    that WhatsApp refuses for good (a number not on it) has none. Says which picture it is, and whether it is new."""
    asked_at = utcnow()
    try:
        picture = session.profile_picture(contact.phone.lstrip("+"))
    except TransportError as error:
        if not error.permanent:
            raise
        logger.info("connection %s: no profile picture of contact %s: %s", session.connection_id, contact.id, error)
        picture = None
    new = picture is not None and picture.id != contact.profile_pic_id
    if picture is None:
        keep_picture(contact.id, None, None, asked_at)
    elif new:
        store_profile_picture.send(contact.id, picture.id, asked_at.isoformat(), picture.url,
                                   base64.b64encode(picture.png).decode() if picture.png else None)
    else:
        Contact.update(profile_pic_checked_at=asked_at).where(Contact.id == contact.id,
                                                              checked_before(asked_at)).execute()
    return {"pictureId": picture.id if picture else None, "downloading": new}


@dramatiq.actor(queue_name="profile-pictures", max_retries=5, min_backoff=5000, max_backoff=300_000)
def store_profile_picture(contact_id: int, picture_id: str, seen_at: str, url: str | None, png: str | None) -> None:
    """Keep the contact's new picture, seen at `seen_at` (ISO): downloaded from WhatsApp's link (public addresses
    only, as any media URL), or the PNG the network gave (base64). One that cannot be kept (not an image, a link
    that answers 4xx) is logged, not retried: the next check brings a new link."""
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None or contact.profile_pic_id == picture_id:
        return  # gone, or kept already (a redelivery)
    try:
        data, mimetype = (base64.b64decode(png), "image/png") if png else fetch_remote(url)[:2]
        if not mimetype.startswith("image/"):
            raise MediaRejected(f"{url} is no picture but {mimetype}")
        key = media_store().save(contact.company_id, data, mimetype)
    except (MediaRejected, MediaUnavailable) as error:
        if isinstance(error, MediaUnavailable) and not error.permanent:
            raise
        logger.info("the profile picture of contact %s is not kept: %s", contact_id, error)
        return
    if not keep_picture(contact_id, key, picture_id, dt.datetime.fromisoformat(seen_at)):
        media_store().delete(key)  # a later check was recorded meanwhile


def keep_picture(contact_id: int, key: str | None, picture_id: str | None, seen_at: dt.datetime) -> bool:
    """Record the contact's picture as WhatsApp showed it at `seen_at` (none: `key` None) unless a later check is
    recorded already, and delete the file it replaces; a change is told to the clients. Whether it was recorded."""
    with database.atomic():
        contact = locked(Contact.select(Contact.id, Contact.profile_pic_path)
                         .where(Contact.id == contact_id, checked_before(seen_at)), no_key=True).first()
        if contact is None:
            return False
        Contact.update(profile_pic_path=key, profile_pic_id=picture_id, profile_pic_checked_at=seen_at).where(
            Contact.id == contact_id).execute()
    if contact.profile_pic_path not in (None, key):
        media_store().delete(contact.profile_pic_path)
    if contact.profile_pic_path != key:
        announce_contact_change(contact_id)
    return True
