"""Idempotency-Key on POSTs that enqueue: the same key within 24 hours replays the first answer.

A key belongs to the caller who sent it (the user, or a program's API key), as at Stripe: another
caller of the company may use the same key for its own request and never sees this one's answer.
The key is claimed with a unique insert before the work runs, so two concurrent requests of one
caller with one key cannot both enqueue: the second sees the claim and gets a 409 until the first
has answered, then the stored answer. A key sent again with a different request is a 422.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import peewee
from flask import Response, request
from werkzeug.datastructures import FileStorage

from api.errors import ApiError, Conflict
from api.security import Principal, current_principal
from db.base import utcnow
from db.jobs import IDEMPOTENCY_WINDOW, IdempotencyKey

HEADER = "Idempotency-Key"
FORM_MEDIA_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
CHUNK_BYTES = 1 << 16


def caller_of(principal: Principal) -> str:
    """Whose keys these are: the user's, or for a program the API key's."""
    if principal.user is not None:
        return f"user:{principal.user.id}"
    return f"api_key:{principal.api_key.id}"


def _file_digest(upload: FileStorage) -> str:
    """SHA-256 of an uploaded file, read in chunks (a large one is spooled to disk), rewound for the view."""
    digest = hashlib.sha256()
    stream = upload.stream
    stream.seek(0)
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def request_fingerprint() -> str:
    """What the request says, hashed: method, path, query and body. A form counts by its fields and each
    file's name, type and content, not its bytes: the form parser has read those by now (so there are none
    left to hash), and a client draws a new multipart boundary for every attempt of the same request."""
    said = {"request": f"{request.method} {request.path}", "query": sorted(request.args.lists())}
    if request.mimetype in FORM_MEDIA_TYPES:
        said["form"] = sorted(request.form.lists())
        said["files"] = sorted(
            (name, [[upload.filename, upload.content_type, _file_digest(upload)] for upload in uploads])
            for name, uploads in request.files.lists()
        )
    else:
        said["body"] = hashlib.sha256(request.get_data(cache=True)).hexdigest()
    return hashlib.sha256(json.dumps(said).encode()).hexdigest()


def _claimed(company_id: int, caller: str, key: str) -> tuple[peewee.Expression, ...]:
    """The caller's claim of the key, as a where clause."""
    return IdempotencyKey.company == company_id, IdempotencyKey.caller == caller, IdempotencyKey.key == key


def _claim(company_id: int, caller: str, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Claim the caller's key for this request; return the caller's earlier claim when there is one."""
    mine = _claimed(company_id, caller, key)
    IdempotencyKey.delete().where(*mine, IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_WINDOW).execute()
    try:
        IdempotencyKey.create(company=company_id, caller=caller, key=key, fingerprint=fingerprint)
        return None
    except peewee.IntegrityError:
        return IdempotencyKey.get(*mine)


def replay_or_run(run: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        return run()
    if len(key) > 255:
        raise ApiError(400, f"{HEADER} is longer than 255 characters", "validation_error")
    principal = current_principal()
    company_id, caller = principal.company_id, caller_of(principal)
    fingerprint = request_fingerprint()
    earlier = _claim(company_id, caller, key, fingerprint)
    mine = _claimed(company_id, caller, key)
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
        IdempotencyKey.delete().where(*mine).execute()
        raise
    answer = {"status_code": response.status_code, "response": response.get_data(as_text=True)}
    IdempotencyKey.update(**answer).where(*mine).execute()
    return response
