"""WhatsApp Status posts (stories, Evolution API's sendStatus): a text on a coloured background, or an image, a video
or an audio with its caption, which the number's contacts see for 24 hours.

Only the gateway holding the session can post, so `post_status` runs on the connection's send queue and WhatsApp's
id of the post is the job's result. A Status goes to every contact the number's privacy settings choose, so it is
posted at most once: a message run again after it asked WhatsApp (a worker that died in the call) does not ask
again, and its result says the post may or may not have gone (the phone shows which). A session that is down is
retried; a file WhatsApp would not take fails the job at once.
"""

from __future__ import annotations

import dramatiq

from wharf.media import MediaRejected, MediaUnavailable, media_store, message_type_for
from workers.chat_actions import live_session
from workers.jobs import asked_before
from workers.remote_media import fetch_sendable
from workers.transports.base import StatusPost, TransportError

STATUS_TYPES = ("image", "video", "audio")  # what a Status shows besides a text


class StatusRefused(Exception):
    """WhatsApp, or the file, refused for good: not retried."""


@dramatiq.actor(queue_name="gateway", max_retries=5, min_backoff=1000, max_backoff=60_000, time_limit=120_000,
                throws=(StatusRefused,))
def post_status(connection_id: int, company_id: int, status: dict) -> dict:
    """Post `status` ({text, background, font, and a stored file's mediaKey, mediaMimetype and mediaName, or a
    mediaUrl}) with the connection's session."""
    session = live_session(connection_id)
    post = StatusPost(status["text"], status_media(status), status["background"], status["font"])
    if asked_before("status") is not None:
        return {"connectionId": connection_id, "waId": None,
                "unsure": "this job asked WhatsApp once already and stopped before its answer: the phone shows "
                          "whether the Status went; it is not posted twice"}
    try:
        wa_id = session.post_status(post)
    except TransportError as error:
        if not error.permanent:
            raise
        raise StatusRefused(str(error)) from error
    return {"connectionId": connection_id, "waId": wa_id}


def status_media(status: dict) -> dict | None:
    """The Status's file: the stored upload, or the URL's (a StatusRefused for what no Status shows)."""
    if status.get("mediaKey"):
        return {"mimetype": status["mediaMimetype"], "filename": status["mediaName"],
                "data": media_store().read(status["mediaKey"])}
    if not status.get("mediaUrl"):
        return None
    try:
        data, mimetype, name = fetch_sendable(status["mediaUrl"], False)
    except MediaRejected as error:
        raise StatusRefused(f"the mediaUrl cannot be posted: {error}") from error
    except MediaUnavailable as error:
        if not error.permanent:
            raise
        raise StatusRefused(str(error)) from error
    if message_type_for(mimetype) not in STATUS_TYPES:
        raise StatusRefused(f"a Status shows an image, a video or an audio, not {mimetype}")
    return {"mimetype": mimetype, "filename": name, "data": data}
