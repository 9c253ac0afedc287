"""A notification as the API answers it and its realtime `notification:new` carries it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.schemas import OutSchema, UtcDateTime
from db.notifications import NOTIFICATION_KINDS, Notification


class NotificationOut(OutSchema):
    id: int
    kind: Literal[NOTIFICATION_KINDS] = Field(  # type: ignore[valid-type]
        description="`mention`: a colleague mentioned you in a ticket's note; `assigned`: a ticket was given to you "
                    "by someone else (`data.reason`: transfer, auto, owner, automation); `sla_missed`: a ticket you "
                    "have, or of your company if you manage it, missed a target of its SLA policy (`data.target`: "
                    "first_response, next_response or resolution, `data.dueAt`)")
    ticket_id: int | None
    actor_id: int | None = Field(description="who did it; null: the platform")
    data: dict
    created_at: UtcDateTime
    read_at: UtcDateTime | None


def notification_json(notification: Notification) -> dict:
    return NotificationOut.model_validate(notification).to_json()
