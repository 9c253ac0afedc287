"""What an agent is told about, for the bell of their client: a colleague mentioned them in a ticket's note, or a
ticket was given to them by someone else (a transfer, a queue's automatic assignment, the contact's owner).
Each is kept until read, as Chatwoot's notifications are."""

import peewee

from db.base import BaseModel, JSONField, utcnow
from db.companies import Company
from db.tickets import Ticket
from db.users import User

NOTIFICATION_KINDS = ("mention", "assigned")


class Notification(BaseModel):
    company = peewee.ForeignKeyField(Company, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="notifications", on_delete="CASCADE")  # who is told
    kind = peewee.CharField(max_length=20)
    ticket = peewee.ForeignKeyField(Ticket, null=True, on_delete="CASCADE")
    actor = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")  # who did it; None: the platform
    data = JSONField(default=dict)  # a mention's noteId and text; an assignment's reason
    created_at = peewee.DateTimeField(default=utcnow)
    read_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "read_at", "created_at"), False),)


def notify(user_ids: list[int], kind: str, ticket: Ticket, actor_id: int | None = None, **data) -> list[Notification]:
    """Tell each of `user_ids` (never the actor themselves), in the caller's transaction."""
    notifications = [Notification(company=ticket.company_id, user=user_id, kind=kind, ticket=ticket.id,
                                  actor=actor_id, data=data) for user_id in dict.fromkeys(user_ids)
                     if user_id != actor_id]
    for notification in notifications:
        notification.save()
    return notifications
