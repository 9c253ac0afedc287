"""Passwords, tokens and who is calling.

Access and refresh tokens are JWTs carrying the company id and role. A revoked token's id is
kept in Redis until the token would have expired anyway, so every API process honours a
logout or a rotation on the very next request. Programs send an API key instead (`X-API-Key`, or
`Authorization: Bearer wk_live_...`: the prefix tells a key from a JWT), limited per minute per key.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, g, request
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.config import config as jwt_config
from flask_jwt_extended.exceptions import (
    InvalidHeaderError,
    JWTDecodeError,
    NoAuthorizationError,
    RevokedTokenError,
    WrongTokenError,
)

from api.errors import ApiError, TooManyRequests
from api.key_usage import count_request
from db.api_keys import ApiKey
from db.base import utcnow
from db.raw import select_one
from db.users import User
from wharf.redis_client import redis_client
from wharf.settings import settings

_hasher = PasswordHasher()
REVOKED_PREFIX = "wharf:revoked-jti:"
SESSION_GENERATION_PREFIX = "wharf:session-generation:"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A hash to verify against when no user matched, so a login takes as long either way.
_DUMMY_HASH = hash_password("no such user")


def verify_login(user: User | None, password: str) -> bool:
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return False
    return verify_password(user.password_hash, password)


@dataclass(frozen=True)
class Principal:
    """Who is calling, for one company: a user with a role, or a program with an API key's scopes.

    A program has no user (`user` is None, `role` is "api_key") and reaches only the endpoints that
    declare a scope it holds; `scopes` is None for a user, whose role alone decides.
    """

    user: User | None
    company_id: int
    role: str
    token: dict
    api_key: ApiKey | None = None
    scopes: frozenset[str] | None = None

    @property
    def user_id(self) -> int | None:
        """The user behind the call, None for a program."""
        return self.user.id if self.user is not None else None

    @property
    def name(self) -> str:
        """Who did it, for logs: the user's name or the API key's."""
        return self.user.name if self.user is not None else f"API key {self.api_key.name!r} ({self.api_key.prefix})"


def current_principal() -> Principal:
    return g.principal


API_KEY_HEADER = "X-API-Key"
API_KEY_PREFIX = "wk_live_"  # visible, so a leaked key is recognisable (secret scanners, logs)


def api_key_hash(key: str) -> str:
    """Keys are 256 random bits, so a plain SHA-256 stores them safely and finds them in one indexed lookup."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh key and its prefix (what lists show to tell keys apart)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(API_KEY_PREFIX) + 6]


def presented_api_key() -> str | None:
    """The API key the request carries: in `X-API-Key`, or as a Bearer credential with the key prefix."""
    if key := request.headers.get(API_KEY_HEADER, "").strip():
        return key
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential.startswith(API_KEY_PREFIX) else None


def api_key_principal(key: str) -> Principal:
    """The program calling with `key`, counted against its rate limit (`g.api_key_rate_limit`, for the headers);
    401 for a key that is unknown, revoked or expired, 429 past its requests per minute."""
    api_key = select_one(ApiKey, 'SELECT * FROM "api_key" WHERE "key_hash" = %s', api_key_hash(key))
    if api_key is None:
        raise ApiError(401, "the API key is not valid (unknown or revoked)", "invalid_api_key")
    if api_key.expires_at is not None and api_key.expires_at <= utcnow():
        raise ApiError(401, "the API key has expired", "api_key_expired")
    g.api_key_rate_limit = limit = count_request(api_key, request.remote_addr or "unknown")
    if limit.exceeded:
        raise TooManyRequests(
            retry_after=limit.retry_after,
            message=f"this API key may make {limit.limit} requests a minute; try again later",
        )
    return Principal(user=None, company_id=api_key.company_id, role="api_key", token={}, api_key=api_key,
                     scopes=frozenset(api_key.scopes))


def session_generation(user_id: int) -> int:
    return int(redis_client().get(SESSION_GENERATION_PREFIX + str(user_id)) or 0)


def issue_tokens(user: User) -> dict[str, str]:
    claims = {"companyId": user.company_id, "role": user.role, "gen": session_generation(user.id)}
    return {
        "accessToken": create_access_token(identity=str(user.id), additional_claims=claims),
        "refreshToken": create_refresh_token(identity=str(user.id), additional_claims=claims),
    }


def revoke_token(token: dict) -> bool:
    """Revoke one decoded token until its own expiry; False when it was revoked already.

    The revocation is a SET NX, so of two requests rotating the same refresh token only one wins.
    """
    ttl = max(1, int(token["exp"] - dt.datetime.now(dt.UTC).timestamp()))
    return bool(redis_client().set(REVOKED_PREFIX + token["jti"], 1, ex=ttl, nx=True))


def revoke_encoded_token(encoded: str, user_id: int) -> None:
    """Revoke a token the client handed us, if it is ours, valid and the same user's."""
    try:
        token = decode_token(encoded, allow_expired=True)
    except Exception:  # a garbage token needs no revoking
        return
    if token.get("sub") == str(user_id):
        revoke_token(token)


def revoke_all_sessions(user_id: int) -> None:
    """Every token of this user issued until now stops working (password change or reset).

    Tokens carry the user's session generation; bumping it outdates them all at once, with
    no clock to compare (a token issued in the same second as the reset is still told apart).
    """
    redis_client().incr(SESSION_GENERATION_PREFIX + str(user_id))


def is_revoked(token: dict) -> bool:
    revoked_jti, generation = redis_client().mget(
        REVOKED_PREFIX + token["jti"], SESSION_GENERATION_PREFIX + token["sub"]
    )
    return bool(revoked_jti) or int(token.get("gen", 0)) < int(generation or 0)


def bearer_jwt() -> str:
    """The JWT of the `Authorization: Bearer <JWT>` header, read as flask-jwt-extended reads it."""
    header = request.headers.get("Authorization", "").strip().strip(",")
    if not header:
        raise NoAuthorizationError("Missing Authorization Header")
    credentials = [value.split() for value in re.split(r",\s*", header) if value and value.split()[0] == "Bearer"]
    if len(credentials) != 1:
        raise NoAuthorizationError(
            "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'")
    if len(credentials[0]) != 2:
        raise InvalidHeaderError("Bad Authorization header. Expected 'Authorization: Bearer <JWT>'")
    return credentials[0][1]


def verified_token(refresh: bool = False) -> dict:
    """The request's token checked as flask-jwt-extended's `verify_jwt_in_request` checks it (signature, expiry,
    subject, access or refresh, revocation).

    The extension decodes each token four times (twice unverified to pick the key, once verified, once more for
    its header), and PyJWT checks every character of each: its check took 0.40 ms of CPU a request. Here a
    token's signature is checked once per process (`signed_claims`) and its expiry on every request: 0.13 ms
    here, most of it the revocation lookup. Its exceptions are raised here, so its error handlers answer (`init_jwt`).
    """
    audience = jwt_config.decode_audience
    try:
        token = dict(signed_claims(bearer_jwt(), jwt_config.decode_key, tuple(jwt_config.decode_algorithms),
                                   tuple(audience) if isinstance(audience, list) else audience,
                                   jwt_config.decode_issuer, jwt_config.leeway, jwt_config.verify_sub))
        if "exp" in token and token["exp"] <= dt.datetime.now(dt.UTC).timestamp() - jwt_config.leeway:
            raise jwt.ExpiredSignatureError("Signature has expired")
    except jwt.ExpiredSignatureError as error:
        error.jwt_header, error.jwt_data = {}, {}  # the extension's handler passes them on; ours ignores them
        raise
    if "sub" not in token:
        raise JWTDecodeError("Missing claim: sub")
    token.setdefault("type", "access")  # the claims the extension assumes when a token lacks them
    token.setdefault("fresh", False)
    token.setdefault("jti", None)
    if refresh and token["type"] != "refresh":
        raise WrongTokenError("Only refresh tokens are allowed")
    if not refresh and token["type"] == "refresh":
        raise WrongTokenError("Only non-refresh tokens are allowed")
    if is_revoked(token):
        raise RevokedTokenError({}, token)
    return token


@functools.lru_cache(maxsize=4096)
def signed_claims(encoded: str, key: str, algorithms: tuple[str, ...], audience: str | tuple[str, ...] | None,
                  issuer: str | None, leeway: int, verify_sub: bool) -> dict:
    """The claims of a good token, remembered per token: an API client sends the same one for many requests,
    and its signature, format, `nbf` and `iat` checks give the same answer every time. Its expiry does not:
    it is checked here the first time, and by the caller on every use. Only good tokens are remembered (an
    exception is not)."""
    return jwt.decode(
        encoded, key, algorithms=list(algorithms), audience=audience, issuer=issuer, leeway=leeway,
        options={"verify_aud": audience is not None, "verify_sub": verify_sub},
    )


def rate_limit(key: str, limit: int, window_seconds: int) -> None:
    """A fixed window counter in Redis, shared by every API process; 429 with Retry-After past it."""
    client = redis_client()
    name = f"wharf:rate:{key}"
    pipe = client.pipeline()
    pipe.incr(name)
    pipe.expire(name, window_seconds, nx=True)
    pipe.ttl(name)
    count, _, ttl = pipe.execute()
    if count > limit:
        raise TooManyRequests(retry_after=max(1, ttl))


def init_jwt(app: Flask) -> None:
    app.config.update(
        JWT_SECRET_KEY=settings.jwt_secret,
        JWT_ACCESS_TOKEN_EXPIRES=dt.timedelta(minutes=settings.jwt_access_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=dt.timedelta(days=settings.jwt_refresh_days),
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ERROR_MESSAGE_KEY="message",
    )
    manager = JWTManager(app)  # issues the tokens and answers the refusals of `verified_token`

    def unauthorized(message: str, code: str = "unauthorized"):
        from api.errors import error_response

        return error_response(ApiError(401, message, code))

    manager.unauthorized_loader(lambda reason: unauthorized(f"missing or malformed token: {reason}"))
    manager.invalid_token_loader(lambda reason: unauthorized(f"invalid token: {reason}", "invalid_token"))
    manager.expired_token_loader(lambda _h, _p: unauthorized("the token has expired", "token_expired"))
    manager.revoked_token_loader(lambda _h, _p: unauthorized("the token has been revoked", "token_revoked"))
