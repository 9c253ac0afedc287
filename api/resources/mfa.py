"""Two-step login (api/mfa.py) as a user turns it on and off, and as an admin turns it off for a user who lost their
phone and their recovery codes.

Turning it on takes two calls, so that no one is locked out by a secret their app never read: `POST /api/profile/mfa`
gives a new secret (and its `otpauth://` address, for a QR code), and `POST /api/profile/mfa/confirm` with the app's
first code turns it on and answers the ten recovery codes, shown this once. Turning it off, or getting new recovery
codes, takes a code too (and, to turn it off, the password): a stolen session is not enough. Every change is in the
audit log; from then on `POST /api/auth/login` wants the `code` after the password. Where the company requires it
(the setting `mfaRequired`), a user who has not turned it on reaches only these two calls, their profile, and
token refresh and logout: anything else is a 403 `mfa_setup_required`.
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint
from pydantic import Field

from api.endpoint import endpoint
from api.errors import ApiError, Conflict
from api.mfa import (
    count_attempt,
    mfa_changed,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    take_code,
    take_totp,
    turn_off,
)
from api.resources.profile import check_current_password
from api.resources.users import MANAGERS
from api.schemas import OutSchema, Schema
from api.scoping import get_owned
from api.security import current_principal
from db.base import utcnow
from db.users import User
from wharf.encryption import decrypt, encrypt

blueprint = Blueprint("mfa", __name__)
Code = Annotated[str, Field(min_length=6, max_length=20,
                            description="the authenticator app's current 6-digit code, or a recovery code")]


class MfaSetupOut(OutSchema):
    secret: str = Field(description="to type into the authenticator app")
    otpauth_uri: str = Field(description="the same, as the address a QR code shows the app")


class CodeIn(Schema):
    code: Code


class DisableIn(Schema):
    password: str = Field(min_length=1, max_length=128)
    code: Code


class RecoveryCodesOut(OutSchema):
    recovery_codes: list[str] = Field(description="ten codes, each good once instead of the app's; shown only now")


def invalid_code() -> ApiError:
    return ApiError(400, "the code is wrong or was used already", "invalid_mfa_code", {"code": "not accepted"})


def checked_code(user: User, code: str) -> None:
    """400 unless `code` is a code of the user's (attempts counted)."""
    if not take_code(user, code):
        raise invalid_code()


@blueprint.post("/api/profile/mfa")
@endpoint(summary="Begin turning on two-step login: a new secret for the authenticator app (again: another one)",
          tags=["profile"], response=MfaSetupOut, errors=[409], before_mfa=True)
def begin_mfa():
    user = current_principal().user
    if user.mfa_enabled:
        raise Conflict("two-step login is on already: turn it off first to change the app")
    secret = new_secret()
    user.mfa_secret_encrypted = encrypt(secret)
    user.save(only=[User.mfa_secret_encrypted, User.updated_at])
    return MfaSetupOut(secret=secret, otpauth_uri=provisioning_uri(secret, user.email))


@blueprint.post("/api/profile/mfa/confirm")
@endpoint(summary="Turn on two-step login with the app's first code; the answer has the recovery codes, shown once",
          tags=["profile"], body=CodeIn, response=RecoveryCodesOut, errors=[400, 409, 429],
          before_mfa=True)
def confirm_mfa(body: CodeIn):
    user = current_principal().user
    if user.mfa_enabled or user.mfa_secret_encrypted is None:
        raise Conflict("two-step login is on already" if user.mfa_enabled else "begin with POST /api/profile/mfa")
    count_attempt(user)
    if not take_totp(user, decrypt(user.mfa_secret_encrypted), body.code.strip()):
        raise invalid_code()
    user.mfa_enabled_at = utcnow()
    user.save(only=[User.mfa_enabled_at, User.updated_at])
    mfa_changed(user, "off", "on")
    return RecoveryCodesOut(recovery_codes=new_recovery_codes(user))


@blueprint.post("/api/profile/mfa/recovery-codes")
@endpoint(summary="Ten new recovery codes (the old ones stop working), for a code", tags=["profile"], body=CodeIn,
          response=RecoveryCodesOut, errors=[400, 409, 429])
def renew_recovery_codes(body: CodeIn):
    user = current_principal().user
    if not user.mfa_enabled:
        raise Conflict("two-step login is off")
    checked_code(user, body.code)
    mfa_changed(user, "on", "on, new recovery codes")
    return RecoveryCodesOut(recovery_codes=new_recovery_codes(User.get_by_id(user.id)))


@blueprint.post("/api/profile/mfa/disable")
@endpoint(summary="Turn off two-step login, with the password and a code", tags=["profile"], body=DisableIn,
          status=204, errors=[400, 409, 429])
def disable_mfa(body: DisableIn):
    user = current_principal().user
    if not user.mfa_enabled:
        raise Conflict("two-step login is off")
    check_current_password(user, body.password)
    checked_code(user, body.code)
    turn_off(user)
    return "", 204


@blueprint.delete("/api/users/<int:user_id>/mfa")
@endpoint(summary="Turn off a user's two-step login (they lost their phone and recovery codes); they log in with "
                  "their password alone until they turn it on again", tags=["users"], status=204, errors=[404, 409],
          roles=MANAGERS)
def reset_mfa(user_id: int):
    user = get_owned(User, user_id, "user")
    if not user.mfa_enabled:
        raise Conflict("two-step login is off for this user")
    turn_off(user)
    return "", 204
