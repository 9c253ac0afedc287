"""A number's own profile photo as WhatsApp takes it: a square JPEG, 640×640, cut from the middle of the image as
WhatsApp's apps cut one when the user does not move the frame."""

from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageOps

from wharf.media import ALLOWED_TYPES, MediaRejected, check_media

PHOTO_TYPES = {mimetype: ALLOWED_TYPES[mimetype] for mimetype in ("image/jpeg", "image/png")}
SIDE = 640


def profile_photo(data: bytes, mimetype: str) -> bytes:
    """The image (a JPEG or a PNG, checked by its bytes) as a profile photo; a MediaRejected for anything else, or an
    image that cannot be read. Turned as the camera held it (EXIF); a transparent background becomes white."""
    check_media(data, mimetype, PHOTO_TYPES)
    try:
        image = ImageOps.exif_transpose(Image.open(BytesIO(data)))
        if image.mode in ("RGBA", "LA", "P"):
            image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
        square = ImageOps.fit(image.convert("RGB"), (SIDE, SIDE), Image.Resampling.LANCZOS)
    except (OSError, Image.DecompressionBombError) as error:
        raise MediaRejected(f"the image cannot be read: {error}") from None
    out = BytesIO()
    square.save(out, format="JPEG", quality=85)
    return out.getvalue()
