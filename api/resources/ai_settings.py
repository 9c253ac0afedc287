"""The company's AI provider for flows' AI replies: `GET` and `PUT /api/settings/ai`, admins only.

The API key is write-only: answers say whether one is set and show its last four characters,
never the key, which is stored encrypted (db/ai_settings.py). A PUT changes the fields it sends;
null puts a field back to its default, and `"apiKey": ""` (or null) clears the key. The base URL
must be an http(s) URL on the public internet, or in `HTTP_ALLOW_PRIVATE_NETWORKS`: checked here
and again before each call. Each change is in the audit log, with the key as its hint.
"""

from __future__ import annotations

from flask import Blueprint
from pydantic import Field

import wharf.settings
from api.audit import record
from api.endpoint import endpoint
from api.errors import ValidationFailed
from api.schemas import OutSchema, Schema, UtcDateTime
from api.security import current_principal
from db.ai_settings import DEFAULT_BASE_URL, DEFAULT_MODEL, AiSettings, ai_settings_of
from db.base import database
from wharf.public_http import UnsafeUrl, check_url

blueprint = Blueprint("ai_settings", __name__, url_prefix="/api/settings/ai")
MANAGERS = ("super", "admin")


class AiSettingsIn(Schema):
    base_url: str | None = Field(
        None,
        min_length=1,
        max_length=2048,
        description=f"the OpenAI-compatible API, up to its version ({DEFAULT_BASE_URL})",
    )
    default_model: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=r"^\S+$",
        description=f"used by AI reply nodes that name none ({DEFAULT_MODEL})",
    )
    api_key: str | None = Field(
        None,
        max_length=500,
        pattern=r"^[\x21-\x7e]*$",
        description='write-only, kept encrypted; "" clears it, leaving it out keeps it',
    )


class AiSettingsOut(OutSchema):
    base_url: str
    default_model: str
    has_api_key: bool
    api_key_hint: str | None = Field(description="the key's last four characters, never the key")
    updated_at: UtcDateTime | None


def key_hint(row: AiSettings) -> str | None:
    return None if row.api_key_hint is None else "…" + row.api_key_hint


def ai_settings_json(row: AiSettings) -> dict:
    return AiSettingsOut.model_validate(
        {
            "base_url": row.base_url,
            "default_model": row.default_model,
            "has_api_key": row.has_api_key,
            "api_key_hint": key_hint(row),
            "updated_at": row.updated_at if row.id else None,
        }
    ).to_json()


def audit_view(row: AiSettings, new_key: bool = False) -> dict:
    """What the audit log keeps: the key's hint, marked when a key was written."""
    hint = key_hint(row)
    return {
        "base_url": row.base_url,
        "default_model": row.default_model,
        "api_key": f"{hint} (new)" if new_key and hint else hint,
    }


def checked_base_url(url: str) -> str:
    url = url.rstrip("/")
    try:
        check_url(url, wharf.settings.settings.http_allow_private_networks)
    except UnsafeUrl as error:
        raise ValidationFailed("this URL cannot be the AI provider", {"baseUrl": str(error)}) from None
    return url


@blueprint.get("")
@endpoint(
    summary="The company's AI provider (the API key shown as a hint only)",
    tags=["settings"],
    response=AiSettingsOut,
    roles=MANAGERS,
)
def show_ai_settings():
    return ai_settings_json(ai_settings_of(current_principal().company_id))


@blueprint.put("")
@endpoint(
    summary="Set the AI provider: base URL, default model, API key (write-only)",
    tags=["settings"],
    body=AiSettingsIn,
    response=AiSettingsOut,
    roles=MANAGERS,
    errors=[400],
)
def update_ai_settings(body: AiSettingsIn):
    company_id = current_principal().company_id
    sent = body.model_fields_set
    base_url = checked_base_url(body.base_url) if body.base_url is not None else DEFAULT_BASE_URL
    with database.atomic():
        AiSettings.insert(company=company_id).on_conflict_ignore().execute()  # a company's first PUT
        row = AiSettings.get(AiSettings.company == company_id)
        before = audit_view(row)
        if "base_url" in sent:
            row.base_url = base_url
        if "default_model" in sent:
            row.default_model = body.default_model or DEFAULT_MODEL
        if "api_key" in sent:
            row.set_api_key(body.api_key or "")
        row.save()
        record(
            "updated", "ai_settings", row.id, company_id, before, audit_view(row, new_key="api_key" in sent)
        )
    return ai_settings_json(row)
