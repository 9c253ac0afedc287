"""A user's preferences and their defaults: the profile answers and changes them (api/resources/profile.py), and
the workers read them (which notifications a user wants by e-mail)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.schemas import Schema, StrictSchema


class NotificationPreferences(StrictSchema):
    new_leads: bool = True
    follow_ups: bool = True
    hot_leads: bool = True
    conversions: bool = True
    new_tickets: bool = True
    ticket_transfers: bool = True
    daily_summary: bool = False
    weekly_report: bool = False
    browser_push: bool = False
    sound: bool = True


class SecurityPreferences(StrictSchema):
    two_factor: bool = False
    login_notifications: bool = True
    session_timeout_minutes: int = Field(60, ge=5, le=1440)


class AppPreferences(StrictSchema):
    default_view: Literal["list", "kanban", "table"] = "list"
    items_per_page: int = Field(25, ge=5, le=500)
    export_format: Literal["csv", "xlsx", "json"] = "csv"
    export_notes: bool = True
    auto_save: bool = True
    compact_mode: bool = False
    language: Literal["en", "pt-BR", "es"] = "en"


class EmailNotificationPreferences(StrictSchema):
    """Which of your notifications (GET /api/notifications) are e-mailed to you too, one by kind; all by default,
    as Chatwoot e-mails mentions, assignments and SLA misses unless turned off."""
    mention: bool = True
    assigned: bool = True
    sla_missed: bool = True


class Preferences(Schema):
    notifications: NotificationPreferences = NotificationPreferences()
    security: SecurityPreferences = SecurityPreferences()
    app: AppPreferences = AppPreferences()
    email_notifications: EmailNotificationPreferences = EmailNotificationPreferences()


def effective_preferences(stored: dict) -> Preferences:
    """Every preference: the user's own values over the defaults. Raises ValidationError for bad ones."""
    return Preferences.model_validate(stored)
