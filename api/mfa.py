"""Two-step login, as Chatwoot's and GitHub's: after the password, a 6-digit code from an authenticator app (TOTP,
RFC 6238: Google Authenticator, 1Password, Authy...), or one of ten recovery codes, each good once.

The app's secret is kept encrypted (wharf/encryption.py). A code is taken within one 30-second step either side of the
server's clock, and never twice: the step of the last code taken is kept, and a code of that step or an earlier one
is refused, so a code seen over a shoulder cannot be replayed. Recovery codes are kept as argon2 hashes, as passwords.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

import peewee
import pyotp

from api.audit import record
from api.security import hash_password, rate_limit, verify_password
from db.base import utcnow
from db.company_settings import recent_company_setting
from db.users import User
from wharf.encryption import decrypt

ISSUER = "Wharf"
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The `otpauth://` address an authenticator app reads (as a QR code) to add the account."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def code_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step whose code `code` is (the current one, or one either side of it), if later than `after`."""
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    for step in (now - 1, now, now + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def take_totp(user: User, secret: str, code: str) -> bool:
    """The app's current code for `secret`, taken: it works no second time, also for two logins racing with it."""
    step = code_step(secret, code, user.mfa_last_step)
    return step is not None and bool(User.update(mfa_last_step=step).where(
        User.id == user.id, User.mfa_last_step.is_null() | (User.mfa_last_step < step)).execute())


def normal_recovery_code(code: str) -> str:
    code = code.strip().lower().replace(" ", "")
    return f"{code[:5]}-{code[5:]}" if len(code) == 10 and "-" not in code else code


def new_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes for the user (the old ones dead), to be shown once."""
    codes = [normal_recovery_code(secrets.token_hex(5)) for _ in range(RECOVERY_CODES)]
    user.mfa_recovery_hashes = [hash_password(code) for code in codes]
    user.save(only=[User.mfa_recovery_hashes, User.updated_at])
    return codes


def take_recovery_code(user: User, code: str) -> bool:
    """One of the user's recovery codes, used up (two logins racing with it: one wins)."""
    code = normal_recovery_code(code)
    for hashed in user.mfa_recovery_hashes or []:
        if verify_password(hashed, code):
            left = [other for other in user.mfa_recovery_hashes if other != hashed]
            as_stored = peewee.Value(User.mfa_recovery_hashes.db_value(user.mfa_recovery_hashes), converter=False,
                                     unpack=False)  # the list's JSON as stored, compared as text
            return bool(User.update(mfa_recovery_hashes=left).where(
                User.id == user.id, User.mfa_recovery_hashes == as_stored).execute())
    return False


def awaits_mfa_setup(user: User, setting: Callable[[int, str], Any] = recent_company_setting) -> bool:
    """The user's company requires two-step login (the setting `mfa_required`) and they have not turned it on: until
    they do, they reach only its setup. A request reads the setting as `recent_company_setting` does (a change
    reaches every process within seconds); a realtime connection, rarer, reads it as it is (`company_setting`)."""
    return not user.mfa_enabled and setting(user.company_id, "mfa_required")


def count_attempt(user: User) -> None:
    """A 429 past 10 codes tried in 15 minutes: the password alone does not open a guessing game."""
    rate_limit(f"mfa-check:{user.id}", limit=10, window_seconds=900)


def take_code(user: User, code: str) -> bool:
    """The second step of a user who has it on: their app's current code, or a recovery code (attempts counted)."""
    count_attempt(user)
    code = code.strip().replace(" ", "")
    if len(code) == 6 and code.isdigit():
        return take_totp(user, decrypt(user.mfa_secret_encrypted), code)
    return take_recovery_code(user, code)


def mfa_changed(user: User, before: str, after: str) -> None:
    """In the audit log, by the caller (no one: the server's shell)."""
    record("updated", "user", user.id, user.company_id, {"mfa": before}, {"mfa": after})


def turn_off(user: User) -> None:
    """Two-step login off for the user: their secret and recovery codes forgotten; audited."""
    User.update(mfa_secret_encrypted=None, mfa_enabled_at=None, mfa_last_step=None, mfa_recovery_hashes=[],
                updated_at=utcnow()).where(User.id == user.id).execute()
    mfa_changed(user, "on", "off")
