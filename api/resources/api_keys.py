"""API keys for programs: admins create them (the key is answered once), list and revoke them.

A program sends `X-API-Key: <key>` instead of a user's token and may call the endpoints that
declare one of its scopes (see api/endpoint.py); revoking deletes the key, so its next call is a 401.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from flask import Blueprint
from pydantic import AfterValidator, Field

from api.audit import log_change
from api.endpoint import endpoint
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


class ApiKeyCreate(Schema):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    expires_at: Annotated[UtcDateTimeIn | None, AfterValidator(in_the_future)] = None


class ApiKeyOut(OutSchema):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    expires_at: UtcDateTime | None
    last_used_at: UtcDateTime | None
    created_by_id: int | None
    created_at: UtcDateTime


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="the key itself: shown this once, only its hash is kept")


def api_key_json(row: ApiKey) -> dict:
    return ApiKeyOut.model_validate(row).to_json()


@blueprint.post("")
@endpoint(summary="Create an API key for a program (the key is answered once)", tags=["api-keys"],
          body=ApiKeyCreate, response=ApiKeyCreatedOut, status=201, roles=MANAGERS)
def create_api_key(body: ApiKeyCreate):
    principal = current_principal()
    key, prefix = new_api_key()
    row = ApiKey.create(
        company=principal.company_id, created_by=principal.user.id, name=body.name, prefix=prefix,
        key_hash=api_key_hash(key), scopes=list(dict.fromkeys(body.scopes)), expires_at=body.expires_at,
    )
    log_change("created", row)
    return ApiKeyCreatedOut.model_validate({**ApiKeyOut.model_validate(row).model_dump(), "key": key}).to_json()


@blueprint.get("")
@endpoint(summary="List the company's API keys (never the keys themselves)", tags=["api-keys"], query=PageQuery,
          response=page_of(ApiKeyOut), roles=MANAGERS)
def list_api_keys(query: PageQuery):
    return paginate(owned(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc()), query, api_key_json)


@blueprint.get("/<int:api_key_id>")
@endpoint(summary="Show an API key", tags=["api-keys"], response=ApiKeyOut, roles=MANAGERS, errors=[404])
def show_api_key(api_key_id: int):
    return api_key_json(get_owned(ApiKey, api_key_id, "API key"))


@blueprint.delete("/<int:api_key_id>")
@endpoint(summary="Revoke an API key: its next call is a 401", tags=["api-keys"], status=204, roles=MANAGERS,
          errors=[404])
def delete_api_key(api_key_id: int):
    row = get_owned(ApiKey, api_key_id, "API key")
    log_change("deleted", row)
    row.delete_instance()
