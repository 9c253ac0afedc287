"""`@endpoint`: one decorator that authenticates, validates and documents a view.

It reads the declared body and query schemas (400 with per-field details, 415 for a body
that is not JSON), checks the caller's token and role, and keeps its arguments on the view
so `api.openapi` can describe every route from the same schemas that validate it.

A program's API key (`X-API-Key`, or a `wk_live_` Bearer credential) opens only the views that
declare a `scope` (one, or a tuple of which any will do); for such a caller the key's scopes stand
in for the role check. Views without a scope (users, API keys, settings...) are for users only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import Response, g, jsonify, make_response, request
from pydantic import BaseModel, ValidationError

from api.errors import ApiError, Forbidden, ValidationFailed
from api.idempotency import replay_or_run
from api.key_usage import count_enqueued_job
from api.mfa import awaits_mfa_setup
from api.schemas import OutSchema
from api.security import Principal, api_key_principal, presented_api_key, verified_token
from db.api_keys import SCOPES
from db.raw import select_one
from db.users import User

Auth = Literal["user", "refresh", "public"]


@dataclass(frozen=True)
class EndpointSpec:
    summary: str
    tags: tuple[str, ...]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: Auth
    roles: tuple[str, ...] | None
    errors: tuple[int, ...] = field(default=())
    enqueues: bool = False
    optional_body: bool = False
    body_media_types: tuple[str, ...] = ("application/json",)
    scopes: tuple[str, ...] = ()
    upload_media_types: tuple[str, ...] = ()  # a file the view reads itself (multipart `file` or a raw body)
    before_mfa: bool = False  # reachable by a user whose company requires two-step login they have not turned on


def validation_details(error: ValidationError) -> dict[str, str]:
    """Pydantic's errors as {"field.path": "what is wrong"}."""
    details: dict[str, str] = {}
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "value_error" and "error" in item.get("ctx", {}):
            message = str(item["ctx"]["error"])  # our validators' own words, without pydantic's "Value error, "
        details[path] = message
    return details


def parse_body(schema: type[BaseModel], media_types: tuple[str, ...] = ("application/json",)) -> BaseModel:
    """The body as `schema`: JSON, whose values keep their types ("5" is no number, "yes" no boolean, 1 no id
    given as true), or the fields of a multipart form, all text, where the view allows one."""
    try:
        if request.mimetype == "multipart/form-data" and "multipart/form-data" in media_types:
            return schema.model_validate(request.form.to_dict())
        if not request.is_json:
            raise ApiError(415, f"send the body as {' or '.join(media_types)}", "unsupported_media_type")
        return schema.model_validate_json(request.get_data(), strict=True)
    except ValidationError as error:
        if any(item["type"] == "json_invalid" for item in error.errors()):
            raise ApiError(400, "the body is not valid JSON", "invalid_json") from None
        raise ValidationFailed("the body has invalid fields", validation_details(error)) from None


def sends_a_body() -> bool:
    """Whether the request carries a body: a length, or chunks. A `Content-Type: application/json` with nothing after
    it (as HTTP clients send for a POST without data) is no body: an endpoint whose body is optional takes none."""
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def parse_query(schema: type[BaseModel]) -> BaseModel:
    values: dict[str, Any] = {}
    for key in request.args:
        items = request.args.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        raise ValidationFailed("the query has invalid parameters", validation_details(error)) from None


def authenticate_api_key(key: str, scopes: tuple[str, ...]) -> None:
    g.principal = principal = api_key_principal(key)
    if not scopes:
        raise Forbidden("API keys cannot call this endpoint; it needs a user's token", "api_key_not_accepted")
    if not principal.scopes & set(scopes):
        raise Forbidden(f"the API key needs the scope {' or '.join(scopes)}", "insufficient_scope",
                        {"required": list(scopes)})


def authenticate(auth: Auth, roles: tuple[str, ...] | None, scopes: tuple[str, ...] = (),
                 before_mfa: bool = False) -> None:
    if auth == "public":
        return
    key = presented_api_key()
    if key and auth == "user":
        return authenticate_api_key(key, scopes)
    token = verified_token(refresh=auth == "refresh")
    user = select_one(User, 'SELECT * FROM "user" WHERE "id" = %s', int(token["sub"]))  # every request: no Peewee build
    if user is None or not user.active:
        raise ApiError(401, "the user no longer exists or is disabled", "invalid_token")
    g.principal = Principal(user=user, company_id=user.company_id, role=user.role, token=token)
    if not before_mfa and awaits_mfa_setup(user):
        raise Forbidden("your company requires two-step login: turn it on first (POST /api/profile/mfa)",
                        "mfa_setup_required")
    if roles is not None and user.role not in roles:
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}", "insufficient_role")


def count_if_enqueued(response: Response) -> Response:
    """A key's 202 from a view that enqueues is a job it started (a replayed answer started none)."""
    api_key = getattr(g.get("principal"), "api_key", None)
    if api_key is not None and response.status_code == 202 and "Idempotent-Replayed" not in response.headers:
        count_enqueued_job(api_key.id)
    return response


def render(result: Any, status: int):
    if isinstance(result, tuple) or hasattr(result, "status_code"):
        return result  # a view that built its own response
    if result is None:
        return "", status
    if isinstance(result, OutSchema):
        result = result.to_json()
    response = jsonify(result)
    response.status_code = status
    return response


def endpoint(
    *,
    summary: str,
    tags: Iterable[str],
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    auth: Auth = "user",
    roles: Iterable[str] | None = None,
    errors: Iterable[int] = (),
    enqueues: bool = False,
    optional_body: bool = False,
    body_media_types: Iterable[str] = ("application/json",),
    scope: str | tuple[str, ...] = (),
    upload_media_types: Iterable[str] = (),
    before_mfa: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    scopes = (scope,) if isinstance(scope, str) else tuple(scope)
    if unknown := set(scopes) - set(SCOPES):
        raise ValueError(f"unknown API key scopes: {sorted(unknown)}")
    spec = EndpointSpec(
        summary=summary,
        tags=tuple(tags),
        body=body,
        query=query,
        response=response,
        status=status,
        auth=auth,
        roles=tuple(roles) if roles is not None else None,
        errors=tuple(errors),
        enqueues=enqueues,
        optional_body=optional_body,
        body_media_types=tuple(body_media_types),
        scopes=scopes,
        upload_media_types=tuple(upload_media_types),
        before_mfa=before_mfa,
    )

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(**path_args: Any):
            authenticate(spec.auth, spec.roles, spec.scopes, spec.before_mfa)
            if spec.body is not None:
                parsed = sends_a_body() or not spec.optional_body
                path_args["body"] = parse_body(spec.body, spec.body_media_types) if parsed else None
            if spec.query is not None:
                path_args["query"] = parse_query(spec.query)
            if spec.enqueues:
                return count_if_enqueued(make_response(replay_or_run(lambda: render(view(**path_args), spec.status))))
            return render(view(**path_args), spec.status)

        wrapper.endpoint_spec = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate
