"""A file sent with a request (multipart `file`), kept in the media store as it goes to WhatsApp: a message's, a
quick message's."""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import FileStorage

from api.errors import ValidationFailed
from wharf.media import MediaRejected, media_store
from wharf.voice_notes import sendable_audio


def uploaded_file() -> FileStorage | None:
    """The request's multipart `file`, if it has one; more than one is a 400 (a message carries one file)."""
    uploads = request.files.getlist("file")
    if len(uploads) > 1:
        raise ValidationFailed("send one file per message", {"file": "more than one file"})
    return uploads[0] if uploads else None


def store_file(company_id: int, upload: FileStorage, as_voice_note: bool) -> tuple[str, str, str]:
    """An uploaded file, kept in the media store as it goes to WhatsApp (a voice note made now: `sendable_audio`):
    its key, type and name; a 400 naming `file` for one we do not send."""
    try:
        data, mimetype, name = sendable_audio(upload.read(), upload.mimetype, upload.filename or "file", as_voice_note)
        return media_store().save(company_id, data, mimetype, name), mimetype, name
    except MediaRejected as error:
        raise ValidationFailed("the file cannot be sent", {"file": str(error)}) from None
