"""Idempotency-Key on POSTs that enqueue: the same key within 24 hours replays the first answer.

The key is claimed with a unique insert before the work runs, so two concurrent requests
with one key cannot both enqueue: the second sees the claim and gets a 409 until the first
has answered, then the stored answer. A key sent again with a different request is a 422.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import peewee
from flask import Response, request

from api.errors import ApiError, Conflict
from api.security import current_principal
from db.base import utcnow
from db.jobs import IDEMPOTENCY_WINDOW, IdempotencyKey

HEADER = "Idempotency-Key"


def request_fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _claim(company_id: int, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Claim the key for this request; return the earlier claim instead when there is one."""
    IdempotencyKey.delete().where(
        IdempotencyKey.company == company_id, IdempotencyKey.key == key, IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_WINDOW
    ).execute()
    try:
        IdempotencyKey.create(company=company_id, key=key, fingerprint=fingerprint)
        return None
    except peewee.IntegrityError:
        return IdempotencyKey.get(IdempotencyKey.company == company_id, IdempotencyKey.key == key)


def replay_or_run(run: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return run()
    if len(key) > 255:
        raise ApiError(400, f"{HEADER} is longer than 255 characters", "validation_error")
    company_id = current_principal().company_id
    fingerprint = request_fingerprint()
    earlier = _claim(company_id, key, fingerprint)
    if earlier is not None:
        if earlier.fingerprint != fingerprint:
            raise ApiError(422, f"this {HEADER} was used for a different request", "idempotency_key_reused")
        if earlier.status_code is None:
            raise Conflict(f"a request with this {HEADER} is still being processed")
        replay = Response(response=earlier.response, status=earlier.status_code, mimetype="application/json")
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = run()
    except BaseException:
        IdempotencyKey.delete().where(IdempotencyKey.company == company_id, IdempotencyKey.key == key).execute()
        raise
    IdempotencyKey.update(status_code=response.status_code, response=response.get_data(as_text=True)).where(
        IdempotencyKey.company == company_id, IdempotencyKey.key == key
    ).execute()
    return response
