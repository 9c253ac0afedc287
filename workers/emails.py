"""E-mail over SMTP: password-reset codes, and agents' notifications for those who want them by e-mail."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import dramatiq

from api.preferences import effective_preferences
from db.base import utcnow
from db.notifications import Notification
from db.users import PasswordReset, User
from wharf.settings import settings

logger = logging.getLogger(__name__)


def email_configured() -> bool:
    """Whether this server sends e-mail at all: `SMTP_HOST` is set."""
    return bool(settings.smtp_host)


def deliver_email(to: str, subject: str, text: str) -> None:
    """Hand one plain-text e-mail to the configured SMTP server."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


@dramatiq.actor(queue_name="emails", max_retries=5)
def send_password_reset_code(reset_id: int, code: str) -> None:
    """E-mail the one-time code of a password reset, unless it is spent, expired or already sent.

    The code travels in the message because only its hash is stored.
    """
    reset = PasswordReset.get_or_none(PasswordReset.id == reset_id)
    if reset is None or reset.used_at or reset.emailed_at or reset.expires_at < utcnow():
        return
    deliver_email(
        reset.user.email,
        "Your Wharf password reset code",
        f"Hello {reset.user.name},\n\nYour code is {code}. It expires in 10 minutes and works once.\n"
        "If you did not ask to reset your password, ignore this message.\n",
    )
    PasswordReset.update(emailed_at=utcnow()).where(PasswordReset.id == reset_id).execute()
    logger.info("password reset code e-mailed for reset %s", reset_id)


ASSIGNED_BECAUSE = {
    "transfer": "{who} transferred it to you",
    "auto": "it was given to you automatically, from its queue",
    "owner": "it was given to you as the contact's owner",
    "automation": "an automation rule gave it to you",
}
MISSED = {"first_response": "its first answer", "next_response": "its next answer", "resolution": "its resolution"}


def wants_email(user: User, kind: str) -> bool:
    """An active user who keeps this kind of notification e-mailed (`emailNotifications` preferences)."""
    return user.active and getattr(effective_preferences(user.preferences or {}).email_notifications, kind)


def notification_email(notification: Notification) -> tuple[str, str]:
    """The subject and text of a notification's e-mail: who did what, on which ticket and contact, and the link to the
    ticket in the agents' client where `TICKET_LINK` says where that is (the platform's own address is the API's)."""
    subject, text = notification_words(notification)
    if settings.ticket_link:
        text += f"\nOpen it: {settings.ticket_link.replace('{ticketId}', str(notification.ticket_id))}\n"
    return subject, text


def notification_words(notification: Notification) -> tuple[str, str]:
    ticket = notification.ticket
    who = notification.actor.name if notification.actor_id else "Wharf"
    about = f"ticket #{ticket.id} with {ticket.contact.name or ticket.contact.phone}"
    if notification.kind == "mention":
        return (f"{who} mentioned you on {about}",
                f"{who} mentioned you in a note on {about}:\n\n{notification.data.get('text', '')}\n")
    if notification.kind == "sla_missed":
        timezone = ticket.company.timezone
        due = dt.datetime.fromisoformat(notification.data["dueAt"]).astimezone(ZoneInfo(timezone))
        return (f"SLA missed on {about}",
                f"Ticket #{ticket.id} with {ticket.contact.name or ticket.contact.phone} missed its SLA target for "
                f"{MISSED[notification.data['target']]}, due at {due:%Y-%m-%d %H:%M} ({timezone}).\n")
    because = ASSIGNED_BECAUSE.get(notification.data.get("reason"), "it was given to you").format(who=who)
    return f"You were assigned {about}", f"You were assigned {about}: {because}.\n"


@dramatiq.actor(queue_name="emails", max_retries=5)
def email_notification(notification_id: int) -> None:
    """E-mail a notification to its user, unless they do not want it, are inactive or have read it already, or
    this server sends no e-mail.

    The e-mail is claimed on the row before it goes (`emailed_at`): a redelivered job finds it claimed and sends
    nothing again; a failed send gives the claim back for the retry.
    """
    notification = Notification.get_or_none(Notification.id == notification_id)
    if (notification is None or notification.read_at or not email_configured()
            or not wants_email(notification.user, notification.kind)):
        return
    if not Notification.update(emailed_at=utcnow()).where(
            Notification.id == notification_id, Notification.emailed_at.is_null()).execute():
        return
    try:
        deliver_email(notification.user.email, *notification_email(notification))
    except Exception:
        Notification.update(emailed_at=None).where(Notification.id == notification_id).execute()
        raise
    logger.info("notification %s e-mailed", notification_id)
