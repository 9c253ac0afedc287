"""Telling agents (db/notifications.py): `notify` writes the notifications in the caller's transaction and, once
that commits, pushes each to its user's realtime clients (`notification:new`) and enqueues its e-mail.

Why on the commit, from `notify` itself, rather than with the change's `Announcements`: notifications are made
deep inside changes that commit in many ways (a request's `announced()`, a flow step's transaction, the menu
routing's, the scheduler's and the inbound worker's assignments), and handing an `Announcements` down to each
would thread it through every caller of a transfer or an assignment. Peewee's `database.after_commit` runs a
callback when the outermost transaction commits (at once outside one) and drops it when that rolls back: one
place, and never a push for a rolled-back change. A savepoint rolled back inside a committed transaction keeps
its callbacks, so the push reads the notifications again and tells only those that exist.
"""

from __future__ import annotations

import functools
import logging

from api.notification_json import notification_json
from db.base import database
from db.notifications import Notification
from db.tickets import Ticket
from wharf.realtime import emit_event, emitted_together
from workers.emails import email_notification

logger = logging.getLogger(__name__)


def notify(user_ids: list[int], kind: str, ticket: Ticket, actor_id: int | None = None, **data) -> list[Notification]:
    """Tell each of `user_ids` (never the actor themselves), in the caller's transaction; pushed and e-mailed
    once it commits."""
    notifications = [Notification(company=ticket.company_id, user=user_id, kind=kind, ticket=ticket.id,
                                  actor=actor_id, data=data) for user_id in dict.fromkeys(user_ids)
                     if user_id != actor_id]
    for notification in notifications:
        notification.save()
    if notifications:
        database.after_commit(functools.partial(send_notifications, [n.id for n in notifications]))
    return notifications


def send_notifications(notification_ids: list[int]) -> None:
    """After the commit: `notification:new` to each user's realtime clients, and the e-mails enqueued. Never
    raises, as it runs inside the caller's commit, which would take a failure for its own: an e-mail that could
    not be enqueued is logged and not sent."""
    try:
        notifications = list(Notification.select().where(Notification.id.in_(notification_ids)))
        with emitted_together():
            for notification in notifications:
                emit_event("notification:new", notification_json(notification), company_id=notification.company_id,
                           user_id=notification.user_id)
        for notification in notifications:
            email_notification.send(notification.id)
    except Exception:
        logger.exception("notifications %s were not all pushed and e-mailed", notification_ids)
