"""What an agent is told about, for the bell of their client: a colleague mentioned them in a ticket's note, or a
ticket was given to them by someone else (a transfer, a queue's automatic assignment, the contact's owner, an
automation rule), or a ticket missed a target of its SLA policy.
Each is kept until read, as Chatwoot's notifications are; `workers/notifications.py` writes them, pushes them and
has them e-mailed."""

import peewee

from db.base import BaseModel, JSONField, utcnow
from db.companies import Company
from db.tickets import Ticket
from db.users import User

NOTIFICATION_KINDS = ("mention", "assigned", "sla_missed")


class Notification(BaseModel):
    company = peewee.ForeignKeyField(Company, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="notifications", on_delete="CASCADE")  # who is told
    kind = peewee.CharField(max_length=20)
    ticket = peewee.ForeignKeyField(Ticket, null=True, on_delete="CASCADE")
    actor = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL")  # who did it; None: the platform
    data = JSONField(default=dict)  # a mention's noteId and text; an assignment's reason; a miss's target and dueAt
    created_at = peewee.DateTimeField(default=utcnow)
    read_at = peewee.DateTimeField(null=True)
    emailed_at = peewee.DateTimeField(null=True)  # its e-mail was claimed (workers/emails.py)

    class Meta:
        indexes = ((("user", "read_at", "created_at"), False),)

