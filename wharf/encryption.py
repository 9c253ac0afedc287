"""Secrets a company gives us (an AI provider's API key) kept encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a key derived with HKDF from
`ENCRYPTION_SECRET`, a secret of its own so that rotating `JWT_SECRET` (to log everyone out)
does not lose the stored keys. A database dump alone reveals none of them.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
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


def encrypt(plain: str) -> str:
    """An opaque ASCII token for `plain`, different at each call (random IV)."""
    return fernet_for(wharf.settings.settings.encryption_secret).encrypt(plain.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet_for(wharf.settings.settings.encryption_secret).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise UndecryptableSecret(
            "the stored secret cannot be decrypted: was ENCRYPTION_SECRET changed?"
        ) from None
