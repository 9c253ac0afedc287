"""The number's own WhatsApp profile (Evolution API's `updateProfileName`, `updateProfileStatus`,
`updateProfilePicture`, `removeProfilePicture`): its name, its "about" text and its picture, set by the connection's
session.

The API keeps what is asked on the connection (`Connection.profile_*`) and queues `apply_profile` on the connection's
send queue, naming the parts that changed. The actor sets on WhatsApp what the connection says when it runs, so a
retry that runs after a later change, or a redelivery, sets the latest; a picture replaced meanwhile is left to the
actor queued with its replacement. What WhatsApp refuses for good (neonize cannot remove a picture) is the job's
result, as is what WhatsApp now shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq

from db.connections import Connection
from wharf.media import media_store
from workers.chat_actions import OPTIONS, live_session
from workers.transports.base import TransportError

if TYPE_CHECKING:
    from workers.gateway.sessions import ManagedSession

PARTS = ("name", "about", "picture")


class PictureReplaced(Exception):
    """The picture was replaced (its file deleted) after the connection was read: the newer one's actor sets it."""


@dramatiq.actor(**OPTIONS)
def apply_profile(connection_id: int, parts: list[str]) -> dict:
    """Set the `parts` of the connection's profile (of PARTS) on WhatsApp as the connection has them now; what each
    shows now, or why WhatsApp refused it (`refused`)."""
    connection = Connection.get_or_none(Connection.id == connection_id)
    if connection is None:
        return {"connectionId": connection_id, "skipped": "connection deleted"}
    session = live_session(connection_id)
    shown: dict = {"connectionId": connection_id}
    refused: dict[str, str] = {}
    for part in (part for part in PARTS if part in parts):
        try:
            if part == "name":
                session.set_profile_name(connection.profile_name)
                shown["name"] = connection.profile_name
            elif part == "about":
                session.set_about(connection.profile_about)
                shown["about"] = connection.profile_about
            else:
                shown["pictureId"] = set_picture(session, connection)
        except TransportError as error:
            if not error.permanent:
                raise
            refused[part] = str(error)
        except PictureReplaced:
            shown["pictureId"] = None
            shown["replaced"] = True
    return shown | ({"refused": refused} if refused else {})


def set_picture(session: ManagedSession, connection: Connection) -> str | None:
    """Show the connection's picture (none: remove it) and keep WhatsApp's id of it, unless it was replaced since."""
    path = connection.profile_picture_path
    try:
        jpeg = media_store().read(path) if path else None
    except FileNotFoundError:
        raise PictureReplaced from None
    picture_id = session.set_profile_picture(jpeg)
    same = Connection.profile_picture_path == path if path else Connection.profile_picture_path.is_null()
    Connection.update(profile_picture_id=picture_id).where(Connection.id == connection.id, same).execute()
    return picture_id
