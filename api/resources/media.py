"""Stored files by signed links: a message's file, a contact's profile picture, a quick message's file and the picture
a connection's number shows, what a browser's <img>, <audio> or download link opens without the API's Authorization
header, as Chatwoot's attachment URLs do, and what a webhook's receiver can fetch.

A message's JSON carries `mediaUrl`, a contact's `profilePicUrl`: a link to `GET /api/media/<token>` signed with the
server's secret and good for a day (`wharf.media.signed_link`), whose token names what it opens (a message's file, a
contact's picture) and which: whoever may read the message or the contact gets it, and it opens that one file only.
The file of an outgoing message sent by URL is not ours to serve: its link redirects there. Images, audio, video and
PDF are shown inline, the rest downloaded, and none is a page of the API's origin (no sniffing, a sandbox CSP): a
contact's "document" may be HTML.
"""

from __future__ import annotations

import mimetypes

from flask import Blueprint, Response, redirect, send_file
from itsdangerous import BadSignature, SignatureExpired

from api.endpoint import endpoint
from api.errors import ApiError, NotFound
from db.connections import Connection
from db.contacts import Contact
from db.messages import Message, QuickMessage
from wharf.media import MEDIA_LINK_SECONDS, MediaRejected, media_link_signer, media_store
from workers.messages import is_remote

blueprint = Blueprint("media", __name__)
INLINE = ("image/", "audio/", "video/", "application/pdf")


def message_file(message_id: int) -> Response:
    message = Message.get_or_none(Message.id == message_id)
    if message is None or not message.media_path:
        raise NotFound("media")
    if is_remote(message.media_path):
        return redirect(message.media_path)
    return stored_file(message.media_path, message.media_mimetype, message.media_name)


def quick_message_file(quick_message_id: int) -> Response:
    quick = QuickMessage.get_or_none(QuickMessage.id == quick_message_id)
    if quick is None or not quick.media_path:
        raise NotFound("media")
    return stored_file(quick.media_path, quick.media_mimetype, quick.media_name)


def profile_picture(contact_id: int) -> Response:
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None or not contact.profile_pic_path:
        raise NotFound("media")
    return stored_file(contact.profile_pic_path, mimetypes.guess_type(contact.profile_pic_path)[0], None)


def connection_picture(connection_id: int) -> Response:
    connection = Connection.get_or_none(Connection.id == connection_id)
    if connection is None or not connection.profile_picture_path:
        raise NotFound("media")
    return stored_file(connection.profile_picture_path, "image/jpeg", None)


OPENS = {"message": message_file, "profile-picture": profile_picture,  # what a link's token may name
         "quick-message": quick_message_file, "connection-picture": connection_picture}


def stored_file(key: str, mimetype: str | None, name: str | None) -> Response:
    """A file of the media store, inline if a browser may show it, never as a page of the API."""
    try:
        path = media_store().path(key)
    except MediaRejected:
        raise NotFound("media") from None
    if not path.is_file():
        raise NotFound("media")
    mimetype = mimetype or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, download_name=name or path.name,
                         as_attachment=not mimetype.startswith(INLINE), conditional=True,
                         max_age=MEDIA_LINK_SECONDS)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@blueprint.get("/api/media/<token>")
@endpoint(summary="A message's file or a contact's profile picture, by the signed link in its `mediaUrl` or "
          "`profilePicUrl` (no Authorization needed; good for 24 h)", tags=["messages", "contacts"], auth="public",
          errors=[404, 410])
def open_media(token: str):
    try:
        kind, record_id = media_link_signer().loads(token, max_age=MEDIA_LINK_SECONDS)
    except SignatureExpired:
        raise ApiError(410, "the link expired: read the message or contact again for a new one",
                       "link_expired") from None
    except (BadSignature, TypeError, ValueError):  # a token of ours names what it opens: [kind, id]
        raise NotFound("media") from None
    if kind not in OPENS:
        raise NotFound("media")
    return OPENS[kind](record_id)
