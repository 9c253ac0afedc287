"""Media files behind a small storage interface: kept under var/media, with type and size limits."""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from itsdangerous import URLSafeTimedSerializer

MAX_BYTES = 16 * 1024 * 1024  # WhatsApp's own limit for most media

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the legacy Office formats' container
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # the OOXML formats are zip files


def _mp4_family(data: bytes) -> bool:
    return data[4:8] == b"ftyp"


def _mpeg_audio(data: bytes) -> bool:
    return data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def _text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


# The types we send, each with what the first bytes of such a file look like
ALLOWED_TYPES = {
    "image/jpeg": lambda data: data.startswith(b"\xff\xd8\xff"),
    "image/png": lambda data: data.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/webp": lambda data: data.startswith(b"RIFF") and data[8:12] == b"WEBP",
    "image/gif": lambda data: data.startswith((b"GIF87a", b"GIF89a")),
    "audio/ogg": lambda data: data.startswith(b"OggS"),
    "audio/mpeg": _mpeg_audio,
    "audio/mp4": _mp4_family,
    "audio/aac": lambda data: data.startswith(b"ADIF") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0),
    "audio/amr": lambda data: data.startswith(b"#!AMR"),
    "video/mp4": _mp4_family,
    "video/3gpp": _mp4_family,
    "application/pdf": lambda data: data.startswith(b"%PDF-"),
    "text/plain": _text,
    "text/csv": _text,
    "application/msword": lambda data: data.startswith(_OLE2),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": lambda data: data.startswith(_ZIP),
    "application/vnd.ms-excel": lambda data: data.startswith(_OLE2),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": lambda data: data.startswith(_ZIP),
    "application/zip": lambda data: data.startswith(_ZIP),
}


class MediaRejected(ValueError):
    """The file is of a type or size we do not send; the message says which."""


def check_media(data: bytes, mimetype: str, types: Mapping[str, Callable[[bytes], bool]] = ALLOWED_TYPES) -> None:
    """Raise `MediaRejected` for a file we do not send: of a type not allowed (not one of `types`), too big, empty,
    or whose bytes are not of the type it claims (an executable named photo.png is not sent as an image)."""
    if mimetype not in types:
        raise MediaRejected(f"files of type {mimetype} cannot be sent")
    if len(data) > MAX_BYTES:
        raise MediaRejected(f"the file has {len(data)} bytes; the limit is {MAX_BYTES}")
    if not data:
        raise MediaRejected("the file is empty")
    if not types[mimetype](data):
        raise MediaRejected(f"the file's content is not {mimetype}")


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
        check_media(data, mimetype)
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

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


MEDIA_LINK_SECONDS = 24 * 3600


def media_link_signer() -> URLSafeTimedSerializer:
    from wharf.settings import settings

    return URLSafeTimedSerializer(settings.jwt_secret, salt="message-media")


def signed_link(kind: str, record_id: int) -> str:
    """A link that opens a stored file without the API's Authorization, for `MEDIA_LINK_SECONDS`: its signed token
    names what it opens (`kind`, api/resources/media.py) and which (`GET /api/media/<token>`); absolute (PUBLIC_URL)."""
    from wharf.settings import settings

    return f"{settings.public_url.rstrip('/')}/api/media/{media_link_signer().dumps([kind, record_id])}"


def media_link(message_id: int) -> str:
    """A link to the file of message `message_id` (`signed_link`)."""
    return signed_link("message", message_id)


def profile_picture_link(contact_id: int) -> str:
    """A link to the profile picture of contact `contact_id` (`signed_link`)."""
    return signed_link("profile-picture", contact_id)


def media_store() -> MediaStore:
    from wharf.settings import settings

    return MediaStore(settings.var_dir / "media")


class MediaUnavailable(Exception):
    """The media URL answered with an error; `permanent` when retrying cannot help (a 4xx)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def check_media_url(url: str) -> None:
    """Raise `MediaRejected` for a URL `fetch_remote` would refuse now (a host that is not on the public
    internet, nor allowed, or does not resolve): a send says so at once. It is checked again when fetched,
    since the host's addresses may change."""
    from wharf.public_http import UnsafeUrl, check_url
    from wharf.settings import settings

    try:
        check_url(url, settings.http_allow_private_networks)
    except UnsafeUrl as error:
        raise MediaRejected(str(error)) from None


def fetch_remote(url: str, timeout: float = 30.0,
                 types: Mapping[str, Callable[[bytes], bool]] = ALLOWED_TYPES) -> tuple[bytes, str, str]:
    """Download a media URL within the size limit, from public addresses only (wharf.public_http), of one of
    `types`; returns (data, mimetype, filename)."""
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
    path = urlparse(url).path
    mimetype = answer.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if mimetype not in types:  # many servers say octet-stream; the name may say better
        mimetype = mimetypes.guess_type(path)[0] or mimetype
    try:
        check_media(answer.body, mimetype, types)
    except MediaRejected as error:
        raise MediaRejected(f"{url}: {error}") from None
    return answer.body, mimetype, path.rsplit("/", 1)[-1] or "file"
