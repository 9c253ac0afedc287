"""Liveness, readiness and the API's own description."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from api.endpoint import endpoint
from api.openapi import build_spec
from api.schemas import OutSchema
from scheduler.status import health

blueprint = Blueprint("system", __name__)

CHECKED = ("database", "redis", "scheduler")
NEEDED = ("database", "redis")  # the API serves without a scheduler; only scheduled work waits


class HealthOut(OutSchema):
    status: str
    checks: dict[str, str] = {}


def readiness_checks() -> dict[str, str]:
    """"ok" or "error: …" for the database, Redis and the scheduler (health() in scheduler/status.py)."""
    checks = health()
    return {name: "ok" if checks[name]["ok"] else f"error: {checks[name]['error']}" for name in CHECKED}


@blueprint.get("/healthz")
@endpoint(summary="The process is alive", tags=["operations"], auth="public", response=HealthOut)
def healthz():
    return HealthOut(status="ok")


@blueprint.get("/readyz")
@endpoint(summary="The database and Redis answer (503 when either does not); whether a scheduler leads",
          tags=["operations"], auth="public", response=HealthOut, errors=[503])
def readyz():
    checks = readiness_checks()
    ready = all(checks[name] == "ok" for name in NEEDED)
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
