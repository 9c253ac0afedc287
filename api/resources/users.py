"""Users of the caller's company. Admins manage them; a plan caps how many a company has."""

from __future__ import annotations

from typing import Literal

from flask import Blueprint
from pydantic import EmailStr, Field

from api.endpoint import endpoint
from api.errors import Conflict, Forbidden
from api.pagination import paginate
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal, hash_password, revoke_all_sessions
from db.companies import Company
from db.users import User

blueprint = Blueprint("users", __name__, url_prefix="/api/users")

Role = Literal["admin", "supervisor", "agent"]
MANAGERS = ("super", "admin")
Password = Field(min_length=8, max_length=128)


class UserOut(OutSchema):
    id: int
    name: str
    email: str
    role: str
    company_id: int
    online_status: str
    max_open_tickets: int | None
    active: bool
    created_at: UtcDateTime


class UserCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Password
    role: Role = "agent"
    max_open_tickets: int | None = Field(None, ge=1)


class UserUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    email: EmailStr | None = None
    password: str | None = Field(None, min_length=8, max_length=128)
    role: Role | None = None
    max_open_tickets: int | None = Field(None, ge=1)
    active: bool | None = None


class UserQuery(PageQuery):
    search: str | None = None
    role: str | None = None


def user_json(user: User) -> dict:
    return UserOut.model_validate(user).to_json()


def enforce_user_limit(company: Company) -> None:
    """403 when one more user would take the company over its plan's limit."""
    if company.plan is None:
        return
    count = User.select().where(User.company == company.id, User.active == True).count()  # noqa: E712
    if count >= company.plan.max_users:
        raise Forbidden(
            f"the plan {company.plan.name!r} allows {company.plan.max_users} users",
            "plan_limit_reached",
            {"limit": company.plan.max_users, "resource": "users"},
        )


def email_taken(email: str, except_id: int | None = None) -> bool:
    query = User.select().where(User.email == email.lower())
    if except_id is not None:
        query = query.where(User.id != except_id)
    return query.exists()


@blueprint.get("")
@endpoint(summary="List the company's users", tags=["users"], query=UserQuery, response=page_of(UserOut),
          roles=("super", "admin", "supervisor"))
def list_users(query: UserQuery):
    users = owned(User).order_by(User.name, User.id)
    if query.search:
        pattern = f"%{query.search}%"
        users = users.where((User.name ** pattern) | (User.email ** pattern))
    if query.role:
        users = users.where(User.role == query.role)
    return paginate(users, query, user_json)


@blueprint.post("")
@endpoint(summary="Create a user in the company", tags=["users"], body=UserCreate, response=UserOut, status=201,
          roles=MANAGERS, errors=[409])
def create_user(body: UserCreate):
    principal = current_principal()
    enforce_user_limit(principal.user.company)
    if email_taken(body.email):
        raise Conflict("a user with this e-mail exists", {"email": "already registered"})
    user = User.create(
        company=principal.company_id,
        name=body.name,
        email=body.email.lower(),
        password_hash=hash_password(body.password),
        role=body.role,
        max_open_tickets=body.max_open_tickets,
    )
    return UserOut.model_validate(user)


@blueprint.get("/<int:user_id>")
@endpoint(summary="Show a user", tags=["users"], response=UserOut, errors=[404])
def show_user(user_id: int):
    principal = current_principal()
    if principal.role == "agent" and user_id != principal.user.id:
        raise Forbidden("agents may only see themselves")
    return UserOut.model_validate(get_owned(User, user_id, "user"))


@blueprint.patch("/<int:user_id>")
@endpoint(summary="Change a user", tags=["users"], body=UserUpdate, response=UserOut, roles=MANAGERS,
          errors=[404, 409])
def update_user(user_id: int, body: UserUpdate):
    user = get_owned(User, user_id, "user")
    changes = body.model_dump(exclude_unset=True)
    if "email" in changes:
        if email_taken(changes["email"], except_id=user.id):
            raise Conflict("a user with this e-mail exists", {"email": "already registered"})
        changes["email"] = changes["email"].lower()
    if changes.get("active") and not user.active:
        enforce_user_limit(user.company)
    password = changes.pop("password", None)
    for name, value in changes.items():
        setattr(user, name, value)
    if password:
        user.password_hash = hash_password(password)
    user.save()
    if password or changes.get("active") is False:
        revoke_all_sessions(user.id)
    return UserOut.model_validate(user)


@blueprint.delete("/<int:user_id>")
@endpoint(summary="Delete a user (their tickets stay, unassigned)", tags=["users"], status=204, roles=MANAGERS,
          errors=[404])
def delete_user(user_id: int):
    user = get_owned(User, user_id, "user")
    if user.id == current_principal().user.id:
        raise Forbidden("you cannot delete yourself")
    user.delete_instance()
    revoke_all_sessions(user_id)
