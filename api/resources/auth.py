"""Sign-up, login, token rotation, logout and password reset by e-mailed one-time code."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import peewee
from flask import Blueprint, request
from pydantic import EmailStr, Field

from api.endpoint import endpoint
from api.errors import ApiError, Conflict, EmailOff
from api.mfa import take_code
from api.resources.companies import CompanyOut
from api.resources.users import Password, UserOut, email_taken
from api.schemas import OutSchema, Schema
from api.security import (
    current_principal,
    hash_password,
    issue_tokens,
    rate_limit,
    revoke_all_sessions,
    revoke_encoded_token,
    revoke_token,
    verify_login,
)
from db.base import database, utcnow
from db.companies import Company, Plan
from db.users import PasswordReset, User
from wharf.settings import settings
from workers.emails import email_configured, send_password_reset_code

blueprint = Blueprint("auth", __name__, url_prefix="/api/auth")

OTP_LIFETIME = dt.timedelta(minutes=10)
OTP_MAX_ATTEMPTS = 5
RESET_TOKEN_LIFETIME = dt.timedelta(minutes=15)


class SignupIn(Schema):
    company_name: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Password


class LoginIn(Schema):
    email: EmailStr
    password: str = Field(min_length=1, max_length=128)
    code: str | None = Field(None, max_length=20, description="with two-step login on: the authenticator app's "
                             "current 6-digit code, or a recovery code (without it, a 401 mfa_required)")


class LogoutIn(Schema):
    refresh_token: str | None = None


class ForgotPasswordIn(Schema):
    email: EmailStr


class VerifyOtpIn(Schema):
    email: EmailStr
    otp: str = Field(pattern=r"^\d{6}$")


class ResetPasswordIn(Schema):
    reset_token: str = Field(min_length=20, max_length=200)
    password: str = Password


class TokensOut(OutSchema):
    access_token: str
    refresh_token: str


class SessionOut(TokensOut):
    user: UserOut


class SignupOut(SessionOut):
    company: CompanyOut


class AcceptedOut(OutSchema):
    message: str


class ResetTokenOut(OutSchema):
    reset_token: str


def keyed_hash(value: str) -> str:
    """One-time codes and reset tokens are stored only as an HMAC keyed by the server's secret."""
    return hmac.new(settings.jwt_secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def client_ip() -> str:
    return request.remote_addr or "unknown"


@blueprint.post("/signup")
@endpoint(summary="Create a company and its first admin", tags=["auth"], auth="public", body=SignupIn,
          response=SignupOut, status=201, errors=[409, 429])
def signup(body: SignupIn):
    rate_limit(f"signup:ip:{client_ip()}", 20, 3600)
    if email_taken(body.email):
        raise Conflict("a user with this e-mail exists", {"email": "already registered"})
    default_plan = Plan.select().where(Plan.active == True).order_by(Plan.price_cents, Plan.id).first()  # noqa: E712
    try:
        with database.atomic():
            company = Company.create(name=body.company_name, plan=default_plan)
            user = User.create(
                company=company, name=body.name, email=body.email.lower(),
                password_hash=hash_password(body.password), role="admin",
            )
    except peewee.IntegrityError:  # the same e-mail signed up in between
        raise Conflict("a user with this e-mail exists", {"email": "already registered"}) from None
    return {**issue_tokens(user), "user": UserOut.model_validate(user).to_json(),
            "company": CompanyOut.model_validate(company).to_json()}


@blueprint.post("/login")
@endpoint(summary="Log in with e-mail and password (and, with two-step login on, the app's code)", tags=["auth"],
          auth="public", body=LoginIn,
          response=SessionOut, errors=[401, 429])
def login(body: LoginIn):
    email = body.email.lower()
    rate_limit(f"login:ip:{client_ip()}", settings.login_attempts_per_minute * 5, 60)
    rate_limit(f"login:email:{email}", settings.login_attempts_per_minute, 60)
    user = User.get_or_none(User.email == email)
    if not verify_login(user, body.password) or not user.active:
        raise ApiError(401, "wrong e-mail or password", "invalid_credentials")
    if user.mfa_enabled and not body.code:
        raise ApiError(401, "two-step login is on: send the authenticator app's code as `code`", "mfa_required")
    if user.mfa_enabled and not take_code(user, body.code):
        raise ApiError(401, "the code is wrong or was used already", "invalid_mfa_code")
    User.update(last_seen_at=utcnow()).where(User.id == user.id).execute()
    return {**issue_tokens(user), "user": UserOut.model_validate(user).to_json()}


@blueprint.post("/refresh")
@endpoint(summary="Trade a refresh token for a new pair; the old one stops working", tags=["auth"],
          auth="refresh", response=TokensOut, before_mfa=True)
def refresh():
    if not revoke_token(current_principal().token):  # another request rotated this token first
        raise ApiError(401, "the token has been revoked", "token_revoked")
    return issue_tokens(current_principal().user)


@blueprint.post("/logout")
@endpoint(summary="Revoke the access token and, if given, the refresh token", tags=["auth"], body=LogoutIn,
          optional_body=True, status=204, before_mfa=True)
def logout(body: LogoutIn | None):
    principal = current_principal()
    revoke_token(principal.token)
    if body is not None and body.refresh_token:
        revoke_encoded_token(body.refresh_token, principal.user.id)


@blueprint.post("/forgot-password")
@endpoint(summary="E-mail a 6-digit code; answers 202 whether or not the address has an account",
          tags=["auth"], auth="public", body=ForgotPasswordIn, response=AcceptedOut, status=202, errors=[429, 503])
def forgot_password(body: ForgotPasswordIn):
    if not email_configured():
        raise EmailOff("no reset code can be e-mailed: an admin can set you a new password")
    email = body.email.lower()
    rate_limit(f"forgot:ip:{client_ip()}", 20, 3600)
    accepted = AcceptedOut(message="if this address has an account, a code is on its way")
    user = User.get_or_none(User.email == email, User.active == True)  # noqa: E712
    if user is None:
        return accepted
    rate_limit(f"forgot:email:{email}", 5, 3600)
    code = f"{secrets.randbelow(1_000_000):06d}"
    with database.atomic():
        PasswordReset.update(used_at=utcnow()).where(PasswordReset.user == user, PasswordReset.used_at.is_null()).execute()
        reset = PasswordReset.create(user=user, otp_hash=keyed_hash(code), expires_at=utcnow() + OTP_LIFETIME)
    send_password_reset_code.send(reset.id, code)
    return accepted


@blueprint.post("/verify-otp")
@endpoint(summary="Trade the e-mailed code for a reset token (5 attempts, 10 minutes)", tags=["auth"],
          auth="public", body=VerifyOtpIn, response=ResetTokenOut, errors=[429])
def verify_otp(body: VerifyOtpIn):
    email = body.email.lower()
    rate_limit(f"otp:ip:{client_ip()}", 30, 600)
    invalid = ApiError(400, "the code is wrong, expired or used up", "invalid_otp")
    reset = (
        PasswordReset.select()
        .join(User)
        .where(User.email == email, PasswordReset.used_at.is_null(), PasswordReset.verified_at.is_null(),
               PasswordReset.expires_at > utcnow())
        .order_by(PasswordReset.id.desc())
        .first()
    )
    if reset is None:
        raise invalid
    # Count the attempt first, conditionally, so concurrent guesses cannot exceed the limit.
    counted = PasswordReset.update(attempts=PasswordReset.attempts + 1).where(
        PasswordReset.id == reset.id, PasswordReset.attempts < OTP_MAX_ATTEMPTS
    ).execute()
    if not counted or not hmac.compare_digest(reset.otp_hash, keyed_hash(body.otp)):
        raise invalid
    reset_token = secrets.token_urlsafe(32)
    verified = PasswordReset.update(verified_at=utcnow(), reset_token_hash=keyed_hash(reset_token)).where(
        PasswordReset.id == reset.id, PasswordReset.verified_at.is_null()
    ).execute()
    if not verified:
        raise invalid
    return ResetTokenOut(reset_token=reset_token)


@blueprint.post("/reset-password")
@endpoint(summary="Set a new password with the reset token; every session of the user ends", tags=["auth"],
          auth="public", body=ResetPasswordIn, status=204)
def reset_password(body: ResetPasswordIn):
    reset = PasswordReset.get_or_none(
        PasswordReset.reset_token_hash == keyed_hash(body.reset_token),
        PasswordReset.used_at.is_null(),
        PasswordReset.verified_at > utcnow() - RESET_TOKEN_LIFETIME,
    )
    if reset is None:
        raise ApiError(400, "the reset token is wrong, expired or used", "invalid_reset_token")
    with database.atomic():
        spent = PasswordReset.update(used_at=utcnow()).where(
            PasswordReset.id == reset.id, PasswordReset.used_at.is_null()
        ).execute()
        if not spent:
            raise ApiError(400, "the reset token is wrong, expired or used", "invalid_reset_token")
        User.update(password_hash=hash_password(body.password)).where(User.id == reset.user_id).execute()
    revoke_all_sessions(reset.user_id)
