"""The company's settings: `GET` every value (defaults included), `PATCH` some; admins only may change them.

Both schemas are built from `db.company_settings.REGISTRY`, so a setting declared there is
validated, documented in OpenAPI and stored without touching this module. Values are strict:
`"5"` is not a number and `1` is not a boolean. A null puts a setting back to its default.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from pydantic import create_model

from api.audit import record
from api.endpoint import endpoint
from api.errors import Conflict
from api.schemas import OutSchema, StrictSchema
from api.security import current_principal
from db.base import database
from db.company_settings import REGISTRY, company_settings, save_company_settings, stored_form
from workers.sla import enqueue_retiming

blueprint = Blueprint("settings", __name__, url_prefix="/api/settings")


SettingsOut = create_model("SettingsOut", __base__=OutSchema, **{key: (Any, ...) for key in REGISTRY})
SettingsPatch = create_model(
    "SettingsPatch", __base__=StrictSchema, **{key: (spec.type | None, None) for key, spec in REGISTRY.items()}
)


class SettingSpecOut(OutSchema):
    key: str
    description: str
    default: Any
    json_schema: dict


class SettingSpecsOut(OutSchema):
    items: list[SettingSpecOut]


def settings_json(company_id: int) -> dict[str, Any]:
    return SettingsOut.model_validate(company_settings(company_id)).to_json()


@blueprint.get("")
@endpoint(summary="The company's settings, defaults included", tags=["settings"], response=SettingsOut)
def show_settings():
    return settings_json(current_principal().company_id)


@blueprint.patch("")
@endpoint(summary="Change some settings (null restores a default)", tags=["settings"], body=SettingsPatch,
          response=SettingsOut, roles=("super", "admin"), errors=[400, 409])
def update_settings(body: SettingsPatch):
    principal = current_principal()
    company_id = principal.company_id
    sent = body.model_fields_set
    if body.mfa_required and principal.user is not None and not principal.user.mfa_enabled:
        raise Conflict("turn on your own two-step login first (POST /api/profile/mfa): requiring it of everyone "
                       "would leave you only its setup", {"mfaRequired": "yours is off"})
    changes = {key: None if getattr(body, key) is None else stored_form(key, getattr(body, key)) for key in sent}
    with database.atomic():
        before = company_settings(company_id)
        save_company_settings(company_id, changes)
        after = company_settings(company_id)
        record("updated", "settings", None, company_id, before, after)
    if after["timezone"] != before["timezone"]:  # business hours are read in it: business-hours SLAs count others
        enqueue_retiming("company", company_id, company_id, principal.user_id)
    return SettingsOut.model_validate(after).to_json()


@blueprint.get("/registry")
@endpoint(summary="Every setting a company has: meaning, default and JSON schema", tags=["settings"],
          response=SettingSpecsOut)
def list_setting_specs():
    items = [
        {"key": SettingsOut.model_fields[key].alias, "description": spec.description, "default": spec.default,
         "json_schema": spec.adapter.json_schema()}
        for key, spec in REGISTRY.items()
    ]
    return SettingSpecsOut.model_validate({"items": items}).to_json()
