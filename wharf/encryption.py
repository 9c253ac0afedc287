"""Secrets a company gives us (an AI provider's API key) kept encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key derived with HKDF from
`ENCRYPTION_SECRET`, a secret of its own so that rotating `JWT_SECRET` (to log everyone out)
does not lose the stored keys. A database dump alone reveals none of them.

Rotation: set the new secret as `ENCRYPTION_SECRET` and the old one in `ENCRYPTION_SECRET_PREVIOUS`
(comma-separated, newest first). New secrets are encrypted under the new one, and stored ones still
decrypt under either; `wharf rotate-encryption` then encrypts every stored one under the new secret,
after which the old one can go.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import wharf.settings


class UndecryptableSecret(ValueError):
    """The token was not made under the current `ENCRYPTION_SECRET` (changed since), or was altered."""


@functools.cache
def fernet_for(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"wharf stored secrets v1").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


@functools.cache
def keyring_for(current: str, previous: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([fernet_for(secret) for secret in (current, *previous)])


def keyring() -> MultiFernet:
    """Encrypts under the current secret; decrypts under it or a previous one."""
    return keyring_for(wharf.settings.settings.encryption_secret, wharf.settings.settings.encryption_secret_previous)


def encrypt(plain: str) -> str:
    """An opaque ASCII token for `plain`, different at each call (random IV)."""
    return keyring().encrypt(plain.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return keyring().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise UndecryptableSecret(
            "the stored secret cannot be decrypted: was ENCRYPTION_SECRET changed?"
        ) from None


def reencrypt(token: str) -> str:
    """The same secret encrypted under the current `ENCRYPTION_SECRET`."""
    try:
        return keyring().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise UndecryptableSecret(
            "the stored secret cannot be decrypted under ENCRYPTION_SECRET nor ENCRYPTION_SECRET_PREVIOUS"
        ) from None
