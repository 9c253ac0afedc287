"""Media files behind a small storage interface: kept under var/media, with type and size limits."""

from __future__ import annotations

import mimetypes
import uuid
from pathlib import Path

ALLOWED_TYPES = {
    "image/jpeg", "image/png", "image/webp", "image/gif",
    "audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr",
    "video/mp4", "video/3gpp",
    "application/pdf", "text/plain", "text/csv",
    "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/zip",
}
MAX_BYTES = 16 * 1024 * 1024  # WhatsApp's own limit for most media


class MediaRejected(ValueError):
    """The file is of a type or size we do not send; the message says which."""


def message_type_for(mimetype: str) -> str:
    """The WhatsApp message type a file of this MIME type is sent as."""
    kind = mimetype.split("/", 1)[0]
    if mimetype == "image/webp":
        return "sticker"
    return {"image": "image", "audio": "audio", "video": "video"}.get(kind, "document")


class MediaStore:
    """Files by a relative key under one root directory; keys never escape the root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, company_id: int, data: bytes, mimetype: str, filename: str | None = None) -> str:
        mimetype = (mimetype or "application/octet-stream").split(";")[0].strip().lower()
        if mimetype not in ALLOWED_TYPES:
            raise MediaRejected(f"files of type {mimetype} cannot be sent")
        if len(data) > MAX_BYTES:
            raise MediaRejected(f"the file has {len(data)} bytes; the limit is {MAX_BYTES}")
        if not data:
            raise MediaRejected("the file is empty")
        extension = mimetypes.guess_extension(mimetype) or ""
        key = f"{company_id}/{uuid.uuid4().hex}{extension}"
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return key

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise MediaRejected("no such media")
        return path

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()


def media_store() -> MediaStore:
    from wharf.settings import settings

    return MediaStore(settings.var_dir / "media")


class MediaUnavailable(Exception):
    """The media URL answered with an error; `permanent` when retrying cannot help (a 4xx)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def fetch_remote(url: str, timeout: float = 30.0) -> tuple[bytes, str, str]:
    """Download a media URL within the size limit, from public addresses only (wharf.public_http);
    returns (data, mimetype, filename)."""
    from urllib.parse import urlparse

    from wharf.public_http import UnsafeUrl, request
    from wharf.settings import settings

    try:
        answer = request("GET", url, None, {"Accept": "*/*"}, allowed=settings.http_allow_private_networks,
                         timeout=timeout, read_bytes=MAX_BYTES + 1)
    except UnsafeUrl as error:
        raise MediaRejected(str(error)) from None
    if answer.status >= 300:
        permanent = 400 <= answer.status < 500 and answer.status not in (408, 429)
        raise MediaUnavailable(f"{url} answered {answer.status}", permanent)
    if len(answer.body) > MAX_BYTES:
        raise MediaRejected(f"the file at {url} is over {MAX_BYTES} bytes")
    mimetype = answer.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
    filename = urlparse(url).path.rsplit("/", 1)[-1] or "file"
    return answer.body, mimetype, filename
