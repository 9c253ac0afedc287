"""Users of the caller's company. Admins manage them; a plan caps how many a company has.

Supervisors see every user of their company, agents only themselves. A sub-user is a user an
admin creates under themselves (`parent`) with granular lead permissions in `permissions`.
"""

from __future__ import annotations

from typing import Literal

import peewee
from flask import Blueprint
from pydantic import EmailStr, Field

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import Conflict, Forbidden
from api.pagination import paginate
from api.plan_limits import enforce_plan_limit
from api.resources.queues import linked_ids, set_user_queues
from api.schemas import Int32, OutSchema, PageQuery, Schema, UtcDateTime, iso_utc, page_of
from api.scoping import get_owned, owned
from api.security import current_principal, hash_password, revoke_all_sessions
from db.base import database, holds, utcnow
from db.queues import UserQueue
from db.users import ONLINE_STATUSES, User
from wharf.realtime import emit_event

blueprint = Blueprint("users", __name__, url_prefix="/api/users")

Role = Literal["admin", "supervisor", "agent"]
MANAGERS = ("super", "admin")
Password = Field(min_length=8, max_length=128)


class LeadPermissions(Schema):
    view: bool = True
    edit: bool = False
    add: bool = False


class Permissions(Schema):
    """What a sub-user may do; a user without permissions is limited by their role only."""

    leads: LeadPermissions = LeadPermissions()


class UserOut(OutSchema):
    id: int
    name: str
    email: str
    role: str
    company_id: int
    online_status: str
    max_open_tickets: int | None
    permissions: dict
    parent_id: int | None
    active: bool
    mfa_enabled: bool = Field(description="they log in in two steps: password, then their authenticator app's code")
    last_seen_at: UtcDateTime | None
    created_at: UtcDateTime


class UserDetailOut(UserOut):
    queue_ids: list[int]


class UserCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Password
    role: Role = "agent"
    max_open_tickets: Int32 | None = Field(None, ge=1)
    queue_ids: list[int] = []
    permissions: Permissions | None = None


class SubUserCreate(UserCreate):
    role: Literal["supervisor", "agent"] = "agent"
    permissions: Permissions = Permissions()


class UserUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: EmailStr | None = None
    password: str | None = Field(None, min_length=8, max_length=128)
    role: Role | None = None
    max_open_tickets: Int32 | None = Field(None, ge=1)
    active: bool | None = None
    queue_ids: list[int] | None = None
    permissions: Permissions | None = None


NOT_NULL_FIELDS = ("name", "email", "password", "role", "active")


class StatusUpdate(Schema):
    status: Literal[ONLINE_STATUSES]  # type: ignore[valid-type]


class UserQuery(PageQuery):
    search: str | None = None
    role: str | None = None
    parent_id: int | None = None
    queue_id: int | None = None


def user_queue_ids(user_ids: list[int]) -> dict[int, list[int]]:
    return linked_ids(UserQueue.user, user_ids, UserQueue.queue)


def user_json(user: User, queue_ids: list[int] | None = None) -> dict:
    """A user with the queues they belong to (looked up when not given)."""
    if queue_ids is None:
        queue_ids = user_queue_ids([user.id])[user.id]
    return UserDetailOut.model_validate({**UserOut.model_validate(user).model_dump(), "queue_ids": queue_ids}).to_json()


def audit_state(user: User) -> dict:
    return snapshot(user, queue_ids=user_queue_ids([user.id])[user.id])


def granted(user: User, area: str, action: str) -> bool:
    """Whether the user's own permissions allow `action` ("view", "edit", "add") on `area` ("leads").

    Only sub-users carry permissions; everyone else is limited by their role alone.
    """
    rules = (user.permissions or {}).get(area)
    return True if rules is None else bool(rules.get(action, False))


def guard_super(user: User) -> None:
    """Only a super admin changes or deletes a super admin."""
    if user.role == "super" and current_principal().role != "super":
        raise Forbidden("only a super admin may change a super admin")


def enforce_user_limit(company_id: int) -> None:
    """In the transaction that adds an active user (`api.plan_limits`)."""
    enforce_plan_limit(company_id, "users",
                       User.select().where(User.company == company_id, User.active == True))  # noqa: E712


def email_taken(email: str, except_id: int | None = None) -> bool:
    query = User.select().where(User.email == email.lower())
    if except_id is not None:
        query = query.where(User.id != except_id)
    return query.exists()


@blueprint.get("")
@endpoint(summary="List the company's users", tags=["users"], query=UserQuery, response=page_of(UserDetailOut),
          roles=("super", "admin", "supervisor"))
def list_users(query: UserQuery):
    users = owned(User).order_by(User.name, User.id)
    if query.search:
        users = users.where(holds(query.search, User.name, User.email))
    if query.role:
        users = users.where(User.role == query.role)
    if query.parent_id is not None:
        users = users.where(User.parent == query.parent_id)
    if query.queue_id is not None:
        users = users.where(User.id.in_(UserQueue.select(UserQueue.user).where(UserQueue.queue == query.queue_id)))
    queues = user_queue_ids([u.id for u in users.paginate(query.page, query.page_size)])
    return paginate(users, query, lambda u: user_json(u, queues[u.id]))


def add_user(body: UserCreate, parent: User | None = None) -> dict:
    """Create a user of the caller's company (under `parent` for a sub-user), with their queues."""
    principal = current_principal()
    if email_taken(body.email):
        raise Conflict("a user with this e-mail exists", {"email": "already registered"})
    password_hash = hash_password(body.password)  # before the company's row is locked: hashing takes a while
    try:
        with database.atomic():
            enforce_user_limit(principal.company_id)
            user = User.create(
                company=principal.company_id,
                name=body.name,
                email=body.email.lower(),
                password_hash=password_hash,
                role=body.role,
                max_open_tickets=body.max_open_tickets,
                permissions=body.permissions.model_dump() if body.permissions else {},
                parent=parent,
            )
            set_user_queues(user.id, body.queue_ids)
            log_change("created", user, queue_ids=body.queue_ids)
    except peewee.IntegrityError:  # the same e-mail registered by a concurrent request
        raise Conflict("a user with this e-mail exists", {"email": "already registered"}) from None
    return user_json(user)


@blueprint.post("")
@endpoint(summary="Create a user in the company", tags=["users"], body=UserCreate, response=UserDetailOut,
          status=201, roles=MANAGERS, errors=[400, 403, 409])
def create_user(body: UserCreate):
    return add_user(body)


@blueprint.post("/sub-users")
@endpoint(summary="Create a sub-user under the caller, with lead permissions", tags=["users"], body=SubUserCreate,
          response=UserDetailOut, status=201, roles=MANAGERS, errors=[400, 403, 409])
def create_sub_user(body: SubUserCreate):
    return add_user(body, parent=current_principal().user)


@blueprint.patch("/me/status")
@endpoint(summary="Set the caller's online status", tags=["users"], body=StatusUpdate, response=UserDetailOut)
def update_my_status(body: StatusUpdate):
    """The company's clients hear `user:<status>`, as when the realtime connection marks it."""
    user = current_principal().user
    user.online_status = body.status
    user.last_seen_at = utcnow()
    user.save(only=[User.online_status, User.last_seen_at, User.updated_at])
    emit_event(f"user:{body.status}", {"userId": user.id, "name": user.name, "status": body.status,
                                       "lastSeenAt": iso_utc(user.last_seen_at)}, company_id=user.company_id)
    return user_json(user)


@blueprint.get("/<int:user_id>")
@endpoint(summary="Show a user", tags=["users"], response=UserDetailOut, errors=[404])
def show_user(user_id: int):
    principal = current_principal()
    if principal.role == "agent" and user_id != principal.user.id:
        raise Forbidden("agents may only see themselves")
    return user_json(get_owned(User, user_id, "user"))


@blueprint.patch("/<int:user_id>")
@endpoint(summary="Change a user (their queues and permissions too)", tags=["users"], body=UserUpdate,
          response=UserDetailOut, roles=MANAGERS, errors=[400, 403, 404, 409])
def update_user(user_id: int, body: UserUpdate):
    user = get_owned(User, user_id, "user")
    guard_super(user)
    before = audit_state(user)
    changes = body.changes(not_null=NOT_NULL_FIELDS)
    if user.id == current_principal().user.id and (changes.get("role", user.role) != user.role
                                                   or changes.get("active") is False):
        raise Forbidden("you cannot change your own role or disable yourself; another admin can")
    queue_ids = changes.pop("queue_ids", None)
    if "permissions" in changes:
        changes["permissions"] = changes["permissions"] or {}
    if "email" in changes:
        if email_taken(changes["email"], except_id=user.id):
            raise Conflict("a user with this e-mail exists", {"email": "already registered"})
        changes["email"] = changes["email"].lower()
    password = changes.pop("password", None)
    reactivated = changes.get("active") and not user.active
    for name, value in changes.items():
        setattr(user, name, value)
    if password:
        user.password_hash = hash_password(password)
    with database.atomic():
        if reactivated:
            enforce_user_limit(user.company_id)
        user.save()
        if queue_ids is not None:
            set_user_queues(user.id, queue_ids)
        log_change("updated", user, before, queue_ids=user_queue_ids([user.id])[user.id])
    if password or changes.get("active") is False:
        revoke_all_sessions(user.id)
    return user_json(user)


@blueprint.delete("/<int:user_id>")
@endpoint(summary="Delete a user (their tickets stay, unassigned)", tags=["users"], status=204, roles=MANAGERS,
          errors=[404])
def delete_user(user_id: int):
    user = get_owned(User, user_id, "user")
    if user.id == current_principal().user.id:
        raise Forbidden("you cannot delete yourself")
    guard_super(user)
    log_change("deleted", user)
    user.delete_instance()
    revoke_all_sessions(user_id)
