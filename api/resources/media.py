"""Messages' files by signed links: what a browser's <img>, <audio> or download link opens without the API's
Authorization header, as Chatwoot's attachment URLs do, and what a webhook's receiver can fetch.

A message's JSON carries `mediaUrl`, a link to `GET /api/media/<token>` signed with the server's secret and
good for a day (`wharf.media.media_link`): whoever may read the message gets it, and it opens that one file only. The file of an
outgoing message sent by URL is not ours to serve: its link redirects there. Images, audio, video and PDF are
shown inline, the rest downloaded, and none is a page of the API's origin (no sniffing, a sandbox CSP): a
contact's "document" may be HTML.
"""

from __future__ import annotations

from flask import Blueprint, redirect, send_file
from itsdangerous import BadSignature, SignatureExpired

from api.endpoint import endpoint
from api.errors import ApiError, NotFound
from db.messages import Message
from wharf.media import MEDIA_LINK_SECONDS, MediaRejected, media_link_signer, media_store
from workers.messages import is_remote

blueprint = Blueprint("media", __name__)
INLINE = ("image/", "audio/", "video/", "application/pdf")


@blueprint.get("/api/media/<token>")
@endpoint(summary="A message's file, by the signed link in its `mediaUrl` (no Authorization needed; good for 24 h)",
          tags=["messages"], auth="public", errors=[404, 410])
def message_media(token: str):
    try:
        message_id = media_link_signer().loads(token, max_age=MEDIA_LINK_SECONDS)
    except SignatureExpired:
        raise ApiError(410, "the link expired: read the message again for a new one", "link_expired") from None
    except BadSignature:
        raise NotFound("media") from None
    message = Message.get_or_none(Message.id == message_id)
    if message is None or not message.media_path:
        raise NotFound("media")
    if is_remote(message.media_path):
        return redirect(message.media_path)
    try:
        path = media_store().path(message.media_path)
    except MediaRejected:
        raise NotFound("media") from None
    if not path.is_file():
        raise NotFound("media")
    mimetype = message.media_mimetype or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, download_name=message.media_name or path.name,
                         as_attachment=not mimetype.startswith(INLINE), conditional=True,
                         max_age=MEDIA_LINK_SECONDS)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
