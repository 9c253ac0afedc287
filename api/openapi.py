"""The OpenAPI 3.1 document, built from the same schemas `@endpoint` validates with."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel

from api.endpoint import EndpointSpec
from api.errors import HTTP_CODES
from api.schemas import ErrorOut

_PATH_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
REF = "#/components/schemas/{model}"
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "the API key's requests per minute (answers to API keys only)",
    "X-RateLimit-Remaining": "what is left of them in the key's current window",
    "X-RateLimit-Reset": "when that window closes, in Unix seconds",
}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self.models: dict[str, type[BaseModel]] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, str]:
        if self.models.setdefault(model.__name__, model) is not model:  # one would hide the other
            raise ValueError(f"two schemas are named {model.__name__}: rename one")
        schema = model.model_json_schema(by_alias=True, ref_template=REF, mode=mode)
        self.schemas.update(schema.pop("$defs", {}))
        self.schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}


def _path_and_parameters(rule: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for converter, name in _PATH_PARAM.findall(rule):
        kind = "integer" if converter == "int" else "string"
        parameters.append({"name": name, "in": "path", "required": True, "schema": {"type": kind}})
    return _PATH_PARAM.sub(r"{\2}", rule), parameters


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def upload_schema(media_type: str) -> dict[str, Any]:
    """A file: the `file` field of a form, or the whole body."""
    if media_type == "multipart/form-data":
        return {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}
    return {"type": "string"}


def _operation(spec: EndpointSpec, components: _Components, path_params: list[dict]) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": spec.summary, "tags": list(spec.tags)}
    parameters = path_params + (_query_parameters(spec.query) if spec.query else [])
    if spec.enqueues:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "the same key within 24 h returns the first answer and enqueues nothing more",
                "schema": {"type": "string", "maxLength": 255},
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        body_ref = components.ref(spec.body, "validation")
        content = {media: {"schema": body_ref} for media in spec.body_media_types}
        if "multipart/form-data" in content:  # the same fields, plus the uploaded file
            upload = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            content["multipart/form-data"] = {"schema": {"allOf": [body_ref, upload]}}
        operation["requestBody"] = {"required": not spec.optional_body, "content": content}
    elif spec.upload_media_types:
        operation["requestBody"] = {"required": True, "content": {media: {"schema": upload_schema(media)}
                                                                  for media in spec.upload_media_types}}
    success: dict[str, Any] = {"description": HTTP_CODES.get(spec.status, "success")}
    if spec.status == 204:
        success["description"] = "no content"
    elif spec.response is not None:
        success["content"] = {"application/json": {"schema": components.ref(spec.response, "serialization")}}
    responses: dict[str, Any] = {str(spec.status): success}
    error_ref = components.ref(ErrorOut, "serialization")
    codes = set(spec.errors) | {500}
    if spec.body is not None or spec.query is not None:
        codes |= {400}
    if spec.body is not None or spec.upload_media_types:
        codes |= {413, 415}
    if spec.auth != "public":
        codes |= {401}
    if spec.roles is not None or spec.scopes:
        codes |= {403}
    if spec.scopes:
        codes |= {429}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": HTTP_CODES.get(code, "error"),
            "content": {"application/json": {"schema": error_ref}},
        }
    if spec.scopes:  # answers to an API key carry where the key stands in its minute
        for response in responses.values():
            response["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS}
        responses["429"]["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    operation["responses"] = responses
    if spec.auth == "public":
        operation["security"] = []
    elif spec.auth == "refresh":
        operation["security"] = [{"refreshToken": []}]
    elif spec.scopes:
        operation["security"] = [{"bearerAuth": []}, {"apiKey": list(spec.scopes)}, {"apiKeyBearer": list(spec.scopes)}]
        operation["description"] = f"API keys need the scope {' or '.join(spec.scopes)}."
    return operation


def build_spec(app: Flask) -> dict[str, Any]:
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        spec: EndpointSpec | None = getattr(app.view_functions[rule.endpoint], "endpoint_spec", None)
        if spec is None:
            continue
        path, path_params = _path_and_parameters(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation = _operation(spec, components, path_params)
            operation["operationId"] = f"{rule.endpoint.replace('.', '_')}_{method.lower()}"
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wharf API",
            "version": "1",
            "description": "Customer service and marketing over WhatsApp. Work that talks to WhatsApp "
            "is enqueued: such calls answer 202 with a jobId to poll at /api/jobs/{id}.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "refreshToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "the refresh token, on /api/auth/refresh only",
                },
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "a program's key (POST /api/api-keys); it opens the operations that name one "
                    "of its scopes, so many requests a minute (429 past them)",
                },
                "apiKeyBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "wk_live_ API key",
                    "description": "the same key as `Authorization: Bearer wk_live_...`; the prefix tells it from a JWT",
                },
            },
            "headers": {
                **{name: {"description": text, "schema": {"type": "integer"}}
                   for name, text in RATE_LIMIT_HEADERS.items()},
                "Retry-After": {"description": "seconds until the key's window closes", "schema": {"type": "integer"}},
            },
        },
        "security": [{"bearerAuth": []}],
    }
