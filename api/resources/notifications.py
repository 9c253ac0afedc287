"""The caller's notifications (db/notifications.py): mentions in notes and tickets given to them, newest first,
until they read them. A user's own: programs (API keys) have none.
"""

from __future__ import annotations

import peewee
from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.notification_json import NotificationOut, notification_json
from api.pagination import paginate
from api.schemas import OutSchema, PageQuery, Schema, page_of
from api.security import current_principal
from db.base import utcnow
from db.notifications import Notification

blueprint = Blueprint("notifications", __name__, url_prefix="/api/notifications")


class NotificationQuery(PageQuery):
    unread: bool | None = None


class ReadIn(Schema):
    ids: list[int] | None = Field(None, max_length=500, description="these; omitted: all of yours")


class ReadOut(OutSchema):
    read: int = Field(description="how many were unread and are read now")
    unread: int = Field(description="how many are left unread")


def yours() -> peewee.Expression:
    return Notification.user == current_principal().user.id


@blueprint.get("")
@endpoint(summary="Your notifications, newest first", tags=["notifications"], query=NotificationQuery,
          response=page_of(NotificationOut))
def list_notifications(query: NotificationQuery):
    notifications = Notification.select().where(yours())
    if query.unread is not None:
        notifications = notifications.where(Notification.read_at.is_null(query.unread))
    return paginate(notifications.order_by(Notification.created_at.desc(), Notification.id.desc()), query,
                    notification_json)


@blueprint.post("/read")
@endpoint(summary="Mark your notifications read (those named, or all)", tags=["notifications"], body=ReadIn,
          optional_body=True, response=ReadOut)
def mark_read(body: ReadIn | None):
    unread = yours() & Notification.read_at.is_null()
    named = unread if body is None or body.ids is None else unread & Notification.id.in_(body.ids)
    read = Notification.update(read_at=utcnow()).where(named).execute()
    return ReadOut(read=read, unread=Notification.select().where(unread).count())
