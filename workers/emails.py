"""E-mail over SMTP: password-reset codes for now."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

import dramatiq

from db.base import utcnow
from db.users import PasswordReset
from wharf.settings import settings

logger = logging.getLogger(__name__)


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
