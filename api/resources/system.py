"""Liveness, readiness and the API's own description."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from api.endpoint import endpoint
from api.openapi import build_spec
from api.schemas import OutSchema
from db.base import database
from wharf.redis_client import redis_client

blueprint = Blueprint("system", __name__)


class HealthOut(OutSchema):
    status: str
    checks: dict[str, str] = {}


def dependency_checks() -> dict[str, str]:
    """"ok" or the error, for the database and Redis."""
    checks = {}
    try:
        database.execute_sql("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # any failure means not ready; the reason is reported, not raised
        checks["database"] = f"error: {error}".strip()
    try:
        redis_client().ping()
        checks["redis"] = "ok"
    except Exception as error:
        checks["redis"] = f"error: {error}".strip()
    return checks


@blueprint.get("/healthz")
@endpoint(summary="The process is alive", tags=["operations"], auth="public", response=HealthOut)
def healthz():
    return HealthOut(status="ok")


@blueprint.get("/readyz")
@endpoint(summary="The database and Redis answer (503 when either does not)", tags=["operations"], auth="public",
          response=HealthOut, errors=[503])
def readyz():
    checks = dependency_checks()
    ready = all(value == "ok" for value in checks.values())
    response = jsonify(HealthOut(status="ok" if ready else "unavailable", checks=checks).to_json())
    response.status_code = 200 if ready else 503
    return response


def api_spec() -> dict:
    """The OpenAPI document, built once per app (the routes do not change while it runs)."""
    if "openapi_spec" not in current_app.extensions:
        current_app.extensions["openapi_spec"] = build_spec(current_app)
    return current_app.extensions["openapi_spec"]


@blueprint.get("/api/openapi.json")
def openapi_json():
    return jsonify(api_spec())


@blueprint.get("/api/docs")
def docs():
    return render_template("docs.html", spec=api_spec())
