"""A file sent with a request (multipart `file`), kept in the media store as it goes to WhatsApp, or a media URL
checked before it is fetched: a message's, a quick message's, a Status's."""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import FileStorage

from api.errors import ValidationFailed
from wharf.media import MediaRejected, check_media_url, media_store
from wharf.profile_photos import profile_photo
from wharf.voice_notes import sendable_audio


def uploaded_file() -> FileStorage | None:
    """The request's multipart `file`, if it has one; more than one is a 400 (a message carries one file)."""
    uploads = request.files.getlist("file")
    if len(uploads) > 1:
        raise ValidationFailed("send one file per message", {"file": "more than one file"})
    return uploads[0] if uploads else None


def stored_picture(company_id: int) -> str:
    """The request's multipart `file` made a WhatsApp picture (a square JPEG: `profile_photo`) and kept in the media
    store: its key; a 400 naming `file` for none, or for a file that is no JPEG or PNG."""
    upload = uploaded_file()
    if upload is None:
        raise ValidationFailed("send the picture as the multipart field `file`", {"file": "missing"})
    try:
        jpeg = profile_photo(upload.read(), upload.mimetype)
    except MediaRejected as error:
        raise ValidationFailed("the file is no picture WhatsApp takes", {"file": str(error)}) from None
    return media_store().save(company_id, jpeg, "image/jpeg")


def store_file(company_id: int, upload: FileStorage, as_voice_note: bool) -> tuple[str, str, str]:
    """An uploaded file, kept in the media store as it goes to WhatsApp (a voice note made now: `sendable_audio`):
    its key, type and name; a 400 naming `file` for one we do not send."""
    try:
        data, mimetype, name = sendable_audio(upload.read(), upload.mimetype, upload.filename or "file", as_voice_note)
        return media_store().save(company_id, data, mimetype, name), mimetype, name
    except MediaRejected as error:
        raise ValidationFailed("the file cannot be sent", {"file": str(error)}) from None


def stored_upload(company_id: int, media_url: str | None, as_voice_note: bool) -> tuple[str, str, str] | None:
    """The uploaded file, stored as it goes to WhatsApp (`store_file`): its key, type and name; None without one. A
    file and a mediaUrl together are a 400."""
    upload = uploaded_file()
    if upload is None:
        return None
    if media_url:
        raise ValidationFailed("give a file or a mediaUrl, not both", {"mediaUrl": "a file is given too"})
    return store_file(company_id, upload, as_voice_note)


def check_fetchable(media_url: str) -> None:
    """A 400 naming `mediaUrl` for a URL the fetch would refuse (`check_media_url`)."""
    try:
        check_media_url(media_url)
    except MediaRejected as error:
        raise ValidationFailed("the mediaUrl cannot be fetched", {"mediaUrl": str(error)}) from None
