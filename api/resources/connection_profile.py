"""The number's own WhatsApp profile (Evolution API's `fetchProfile`, `updateProfileName`, `updateProfileStatus`,
`updateProfilePicture`, `removeProfilePicture`): its name, its "about" text and its picture.

Admins only. A change is kept on the connection at once and answered 202 with a job: the connection's session sets it
on WhatsApp (workers/own_profile.py), and the job's result says what WhatsApp shows then, or why it refused. A
picture is made a square JPEG here (wharf/profile_photos.py). `GET` shows the profile as Wharf last set it, not read
back from WhatsApp: what is changed on the phone is not seen there.
"""

from __future__ import annotations

from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.errors import ValidationFailed
from api.media_upload import stored_picture
from api.resources.connections import MANAGERS
from api.resources.number_check import connection_job, connection_to_ask
from api.schemas import JobAccepted, OutSchema, Schema
from api.scoping import get_owned
from db.connections import Connection
from wharf.media import media_store, signed_link
from workers.own_profile import apply_profile

blueprint = Blueprint("connection_profile", __name__, url_prefix="/api/connections")


class NumberProfileOut(OutSchema):
    name: str | None = Field(description="the number's name as Wharf last set it; null: never set through Wharf")
    about: str | None = Field(description="its \"about\" text as Wharf last set it; null: never set through Wharf")
    picture_url: str | None = Field(description="the picture Wharf last set (a square JPEG; the link opens without "
                                                "Authorization for 24 hours); null: none set, or removed")
    picture_id: str | None = Field(description="WhatsApp's id of that picture, once it shows it")


class NumberProfileIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=25, description="the name the number shows (its push "
                             "name), up to 25 characters as WhatsApp allows")
    about: str | None = Field(None, max_length=139, description="the \"about\" text, up to 139 characters as WhatsApp "
                              "allows; \"\" empties it")


def profile_json(connection: Connection) -> NumberProfileOut:
    picture_url = signed_link("connection-picture", connection.id) if connection.profile_picture_path else None
    return NumberProfileOut(name=connection.profile_name, about=connection.profile_about, picture_url=picture_url,
                            picture_id=connection.profile_picture_id)


def set_on_whatsapp(connection: Connection, parts: list[str]) -> JobAccepted:
    """Queue the session's setting of these parts of the profile (workers/own_profile.py), as a job."""
    return connection_job(connection, apply_profile, parts)


def replace_picture(connection: Connection, key: str | None) -> None:
    """The connection's picture is now the stored file `key` (None: none); the file it replaces is deleted."""
    Connection.update(profile_picture_path=key, profile_picture_id=None).where(Connection.id == connection.id).execute()
    if connection.profile_picture_path:
        media_store().delete(connection.profile_picture_path)


@blueprint.get("/<int:connection_id>/profile")
@endpoint(summary="The number's WhatsApp profile as Wharf last set it: name, about, picture", tags=["connections"],
          response=NumberProfileOut, roles=MANAGERS, errors=[404])
def show_profile(connection_id: int):
    return profile_json(get_owned(Connection, connection_id, "connection"))


@blueprint.patch("/<int:connection_id>/profile")
@endpoint(summary="Change the number's WhatsApp name or about text: 202 with a job whose result says what WhatsApp "
          "shows", tags=["connections"], body=NumberProfileIn, response=JobAccepted, status=202, roles=MANAGERS,
          errors=[404, 409], enqueues=True)
def update_profile(connection_id: int, body: NumberProfileIn):
    changes = body.changes(not_null={"name", "about"})
    if not changes:
        raise ValidationFailed("send the name, the about text or both", {"name": "missing", "about": "missing"})
    connection = connection_to_ask(connection_id)
    Connection.update({getattr(Connection, f"profile_{part}"): value for part, value in changes.items()}).where(
        Connection.id == connection.id).execute()
    return set_on_whatsapp(connection, list(changes))


@blueprint.put("/<int:connection_id>/profile/picture")
@endpoint(summary="Set the number's WhatsApp picture (multipart `file`, a JPEG or PNG, cut square to 640×640): 202 "
          "with a job whose result has WhatsApp's `pictureId`", tags=["connections"], response=JobAccepted,
          status=202, roles=MANAGERS, errors=[404, 409], enqueues=True, upload_media_types=("multipart/form-data",))
def set_profile_picture(connection_id: int):
    connection = connection_to_ask(connection_id)
    replace_picture(connection, stored_picture(connection.company_id))
    return set_on_whatsapp(connection, ["picture"])


@blueprint.delete("/<int:connection_id>/profile/picture")
@endpoint(summary="Remove the number's WhatsApp picture: 202 with a job (neonize cannot: its result says so)",
          tags=["connections"], response=JobAccepted, status=202, roles=MANAGERS, errors=[404, 409], enqueues=True)
def remove_profile_picture(connection_id: int):
    connection = connection_to_ask(connection_id)
    replace_picture(connection, None)
    return set_on_whatsapp(connection, ["picture"])
