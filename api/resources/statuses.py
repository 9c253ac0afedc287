"""Posting a WhatsApp Status (a story) from one of the company's numbers (Evolution API's sendStatus), for marketers:
a text on a coloured background, or an image, a video or an audio (uploaded as multipart `file`, or by `mediaUrl`)
with a caption. The number's contacts see it for 24 hours, as its Status privacy settings choose them.

202 with a job: the connection's session posts it (workers/statuses.py), at most once, and the job's result has
WhatsApp's id of the post. Admins and supervisors, as campaigns; API keys with `campaigns:write`.
"""

from __future__ import annotations

from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.errors import ValidationFailed
from api.media_upload import check_fetchable, stored_upload
from api.resources.campaigns import MANAGERS
from api.resources.number_check import connection_to_ask, session_job
from api.schemas import JobAccepted, Schema
from api.security import current_principal
from wharf.media import media_store, message_type_for
from workers import statuses
from workers.transports.base import StatusPost

blueprint = Blueprint("statuses", __name__)


class StatusIn(Schema):
    text: str = Field("", max_length=700, description="the text on its background, or a file's caption")
    background_color: str = Field(StatusPost.background, pattern=r"^#[0-9a-fA-F]{6}$",
                                  description="a text's background")
    font: int = Field(StatusPost.font, ge=0, le=7, description="a text's typeface, as WhatsApp numbers them")
    media_url: str | None = Field(None, pattern=r"^https?://", max_length=2048,
                                  description="an image, a video or an audio to post, instead of a `file`")


@blueprint.post("/api/connections/<int:connection_id>/status")
@endpoint(summary="Post a WhatsApp Status from the number: a text, or an image, video or audio with a caption; 202 "
          "with a job whose result has WhatsApp's `waId` of it", tags=["connections"], body=StatusIn,
          response=JobAccepted, status=202, roles=MANAGERS, errors=[404, 409], enqueues=True,
          scope="campaigns:write", body_media_types=("application/json", "multipart/form-data"))
def post_status(connection_id: int, body: StatusIn):
    connection = connection_to_ask(connection_id)
    status = {"text": body.text, "background": body.background_color.lower(), "font": body.font,
              "mediaUrl": body.media_url} | stored_media(body)
    if not status["text"] and not status["mediaUrl"] and not status.get("mediaKey"):
        raise ValidationFailed("say something: a text, a file or a mediaUrl", {"text": "empty Status"})
    return session_job(connection, statuses.post_status, status)


def stored_media(body: StatusIn) -> dict:
    """The uploaded file, kept, as the job's fields; a 400 for a file no Status shows, or a mediaUrl beside it or that
    cannot be fetched."""
    upload = stored_upload(current_principal().company_id, body.media_url, False)
    if upload is None:
        if body.media_url:
            check_fetchable(body.media_url)
        return {}
    key, mimetype, name = upload
    if message_type_for(mimetype) not in statuses.STATUS_TYPES:
        media_store().delete(key)
        raise ValidationFailed("a Status shows an image, a video or an audio", {"file": f"not {mimetype}"})
    return {"mediaKey": key, "mediaMimetype": mimetype, "mediaName": name}
