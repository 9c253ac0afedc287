"""API keys for programs: admins create them (the key is answered once), list, change and revoke them.

A program sends `X-API-Key: <key>` (or `Authorization: Bearer <key>`) instead of a user's token and may
call the endpoints that declare one of its scopes (see api/endpoint.py), so many requests a minute;
revoking deletes the key, so its next call is a 401. Keys never reach these endpoints themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Literal

from flask import Blueprint, Response, g
from pydantic import AfterValidator, Field

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.key_usage import Usage, forget_key, usage_of
from api.pagination import paginate
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, UtcDateTimeIn, page_of
from api.scoping import get_owned, owned
from api.security import api_key_hash, current_principal, new_api_key
from db.api_keys import SCOPES, ApiKey
from db.base import utcnow

blueprint = Blueprint("api_keys", __name__, url_prefix="/api/api-keys")
MANAGERS = ("super", "admin")
Scope = Literal[SCOPES]  # type: ignore[valid-type]


def in_the_future(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value <= utcnow():
        raise ValueError("must be in the future")
    return value


Name = Annotated[str, Field(min_length=1, max_length=100)]
Scopes = Annotated[list[Scope], Field(min_length=1, max_length=len(SCOPES))]
ExpiresAt = Annotated[UtcDateTimeIn | None, AfterValidator(in_the_future)]
RateLimitPerMinute = Annotated[int, Field(ge=1, le=1_000_000, description="requests a minute; past it, 429")]


class ApiKeyCreate(Schema):
    name: Name
    scopes: Scopes
    expires_at: ExpiresAt = None
    rate_limit_per_minute: RateLimitPerMinute | None = Field(
        None, description="requests a minute; unset: the installation's API_KEY_RATE_LIMIT_PER_MINUTE")


NOT_NULL_FIELDS = ("name", "scopes", "rate_limit_per_minute")  # only `expiresAt: null` means something


class ApiKeyUpdate(Schema):
    name: Name | None = None
    scopes: Scopes | None = None
    expires_at: ExpiresAt = Field(None, description="null: the key never expires")
    rate_limit_per_minute: RateLimitPerMinute | None = None


class ApiKeyUsageOut(OutSchema):
    rate_limit_per_minute: int
    requests: int = Field(description="requests made with the key, refused ones included")
    enqueued_jobs: int = Field(description="its requests answered 202 (work enqueued)")
    last_used_at: UtcDateTime | None
    last_ip: str | None


class ApiKeyOut(ApiKeyUsageOut):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    expires_at: UtcDateTime | None
    created_by_id: int | None
    created_at: UtcDateTime


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="the key itself: shown this once, only its hash is kept")


def api_key_fields(row: ApiKey, usage: Usage) -> dict:
    """The row's columns the answers show, with its usage (row plus what Redis still holds)."""
    columns = {name: getattr(row, name) for name in ApiKeyOut.model_fields if hasattr(row, name)}
    return {**columns, **asdict(usage)}


def api_key_json(row: ApiKey) -> dict:
    return ApiKeyOut.model_validate(api_key_fields(row, usage_of([row])[row.id])).to_json()


@blueprint.after_app_request
def rate_limit_headers(response: Response) -> Response:
    """Every answer to a request made with a key says where the key stands in its minute."""
    if limit := g.get("api_key_rate_limit"):
        response.headers.update(limit.headers())
    return response


@blueprint.post("")
@endpoint(summary="Create an API key for a program (the key is answered once)", tags=["api-keys"],
          body=ApiKeyCreate, response=ApiKeyCreatedOut, status=201, roles=MANAGERS)
def create_api_key(body: ApiKeyCreate):
    principal = current_principal()
    key, prefix = new_api_key()
    limit = {"rate_limit_per_minute": body.rate_limit_per_minute} if body.rate_limit_per_minute else {}
    row = ApiKey.create(
        company=principal.company_id, created_by=principal.user.id, name=body.name, prefix=prefix,
        key_hash=api_key_hash(key), scopes=list(dict.fromkeys(body.scopes)), expires_at=body.expires_at, **limit,
    )
    log_change("created", row)
    return ApiKeyCreatedOut.model_validate({**api_key_fields(row, usage_of([row])[row.id]), "key": key}).to_json()


@blueprint.get("")
@endpoint(summary="List the company's API keys (never the keys themselves)", tags=["api-keys"], query=PageQuery,
          response=page_of(ApiKeyOut), roles=MANAGERS)
def list_api_keys(query: PageQuery):
    page = paginate(owned(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc()), query, lambda row: row)
    usages = usage_of(page["items"])
    return {**page, "items": [ApiKeyOut.model_validate(api_key_fields(row, usages[row.id])).to_json()
                              for row in page["items"]]}


@blueprint.get("/<int:api_key_id>")
@endpoint(summary="Show an API key", tags=["api-keys"], response=ApiKeyOut, roles=MANAGERS, errors=[404])
def show_api_key(api_key_id: int):
    return api_key_json(get_owned(ApiKey, api_key_id, "API key"))


@blueprint.get("/<int:api_key_id>/usage")
@endpoint(summary="An API key's usage: requests, enqueued jobs, last use and IP, its rate limit", tags=["api-keys"],
          response=ApiKeyUsageOut, roles=MANAGERS, errors=[404])
def show_api_key_usage(api_key_id: int):
    row = get_owned(ApiKey, api_key_id, "API key")
    return ApiKeyUsageOut.model_validate(api_key_fields(row, usage_of([row])[row.id])).to_json()


@blueprint.patch("/<int:api_key_id>")
@endpoint(summary="Change an API key's name, scopes, expiry or rate limit (its next request obeys them)",
          tags=["api-keys"], body=ApiKeyUpdate, response=ApiKeyOut, roles=MANAGERS, errors=[404])
def update_api_key(api_key_id: int, body: ApiKeyUpdate):
    row = get_owned(ApiKey, api_key_id, "API key")
    before = snapshot(row)
    changes = body.changes(not_null=NOT_NULL_FIELDS)
    if "scopes" in changes:
        changes["scopes"] = list(dict.fromkeys(changes["scopes"]))
    for name, value in changes.items():
        setattr(row, name, value)
    row.save()
    log_change("updated", row, before)
    return api_key_json(row)


@blueprint.delete("/<int:api_key_id>")
@endpoint(summary="Revoke an API key: its next call is a 401", tags=["api-keys"], status=204, roles=MANAGERS,
          errors=[404])
def delete_api_key(api_key_id: int):
    row = get_owned(ApiKey, api_key_id, "API key")
    log_change("deleted", row)
    row.delete_instance()
    forget_key(api_key_id)
