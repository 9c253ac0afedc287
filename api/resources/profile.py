"""The caller's own profile: name, e-mail, preferences and password.

Preferences are stored as only what the user changed (`User.preferences`) and always answered
whole, defaults filled in, so a new preference needs no data migration. A PATCH merges: the
groups and keys sent replace those values, everything else stays. A new e-mail needs the
current password, as a new password does: a stolen token must not be enough to take the account.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import EmailStr, Field, ValidationError
from pydantic.alias_generators import to_camel

from api.audit import log_change, record, snapshot
from api.endpoint import endpoint, validation_details
from api.errors import ApiError, Conflict, ValidationFailed
from api.preferences import Preferences, effective_preferences
from api.resources.auth import TokensOut
from api.resources.users import Password, UserDetailOut, email_taken, user_json
from api.schemas import Schema
from api.security import (
    current_principal,
    hash_password,
    issue_tokens,
    rate_limit,
    revoke_all_sessions,
    verify_password,
)
from db.users import User

blueprint = Blueprint("profile", __name__, url_prefix="/api/profile")


class ProfileOut(UserDetailOut):
    preferences: Preferences


class ProfileUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: EmailStr | None = None
    current_password: str | None = Field(None, max_length=128, description="needed to change the e-mail")
    preferences: dict[str, dict[str, Any]] | None = None


class PasswordChange(Schema):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Password


def merged_preferences(stored: dict, changes: dict) -> dict:
    """The stored overrides with `changes` laid over them, group by group, keys made camelCase
    (as stored) so a snake_case key sent replaces its stored value instead of sitting beside it."""
    merged = {group: dict(values) for group, values in stored.items()}
    for group, values in changes.items():
        merged[group] = {**merged.get(group, {}), **{to_camel(key): value for key, value in values.items()}}
    return merged


def overrides(preferences: Preferences) -> dict:
    """Only the values the user set, camelCase, to store (a later default change then reaches everyone else)."""
    stored = {}
    for group in sorted(preferences.model_fields_set):
        values = getattr(preferences, group)
        stored[group] = values.model_dump(include=values.model_fields_set, by_alias=True)
    return stored


def check_current_password(user: User, password: str | None) -> None:
    """400 unless `password` is the user's password; attempts are limited like logins."""
    rate_limit(f"password-check:{user.id}", limit=10, window_seconds=900)
    if not password or not verify_password(user.password_hash, password):
        raise ApiError(400, "the current password is not right", "invalid_password",
                       {"currentPassword": "does not match"})


def profile_json(user: User) -> dict:
    return ProfileOut.model_validate({**user_json(user), "preferences": effective_preferences(user.preferences or {})}
                                     ).to_json()


@blueprint.get("")
@endpoint(summary="The caller's profile and preferences", tags=["profile"], response=ProfileOut,
          before_mfa=True)
def show_profile():
    return profile_json(current_principal().user)


@blueprint.patch("")
@endpoint(summary="Change the caller's name, e-mail or preferences", tags=["profile"], body=ProfileUpdate,
          response=ProfileOut, errors=[400, 409, 429])
def update_profile(body: ProfileUpdate):
    user = current_principal().user
    before = snapshot(user)
    if body.name is not None:
        user.name = body.name
    if body.email is not None and body.email.lower() != user.email:
        check_current_password(user, body.current_password)
        if email_taken(body.email, except_id=user.id):
            raise Conflict("a user with this e-mail exists", {"email": "already registered"})
        user.email = body.email.lower()
    if body.preferences is not None:
        try:
            preferences = effective_preferences(merged_preferences(user.preferences or {}, body.preferences))
        except ValidationError as error:
            details = {f"preferences.{path}": message for path, message in validation_details(error).items()}
            raise ValidationFailed("the preferences have invalid values", details) from None
        user.preferences = overrides(preferences)
    user.save()
    log_change("updated", user, before)
    return profile_json(user)


@blueprint.post("/password")
@endpoint(summary="Change the caller's password; other sessions end, fresh tokens answer", tags=["profile"],
          body=PasswordChange, response=TokensOut, errors=[400, 429])
def change_password(body: PasswordChange):
    user = current_principal().user
    check_current_password(user, body.current_password)
    if body.new_password == body.current_password:
        raise ValidationFailed("the new password is the current one", {"newPassword": "same as the current one"})
    user.password_hash = hash_password(body.new_password)
    user.save(only=[User.password_hash, User.updated_at])
    revoke_all_sessions(user.id)
    record("updated", "user", user.id, user.company_id, {"password": "(previous)"}, {"password": "(changed)"})
    return issue_tokens(user)
