"""Queues (departments): members, greeting, business hours in the company's timezone, and a menu
whose options route a new ticket to another queue. Admins manage them; everyone reads them."""

from __future__ import annotations

from typing import Annotated

import peewee
from flask import Blueprint
from pydantic import AfterValidator, Field, field_validator

from api.audit import log_change, snapshot
from api.endpoint import endpoint
from api.errors import Conflict, ValidationFailed
from api.pagination import paginate
from api.schemas import Int32, OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import database, holds, utcnow
from db.companies import Company
from db.queue_rules import is_open, validate_business_hours, validate_special_days
from db.queues import Queue, UserQueue
from db.users import User
from workers.sla import enqueue_retiming

blueprint = Blueprint("queues", __name__, url_prefix="/api/queues")
MANAGERS = ("super", "admin")

BusinessHours = Annotated[dict[str, list[list[str]]], AfterValidator(validate_business_hours)]
SpecialDays = Annotated[dict[str, list[list[str]]], AfterValidator(validate_special_days)]


class MenuOption(Schema):
    option: str = Field(min_length=1, max_length=10)
    label: str = Field(min_length=1, max_length=100)
    queue_id: int


def unique_options(options: list[MenuOption] | None) -> list[MenuOption] | None:
    seen = [option.option.casefold() for option in options or []]
    if len(seen) != len(set(seen)):
        raise ValueError("each menu option must be unique")
    return options


class QueueFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$")
    greeting_message: str | None = Field(None, max_length=4096)
    priority: Int32 | None = Field(None, ge=0)
    user_ids: list[int] | None = None
    business_hours: BusinessHours | None = None
    special_days: SpecialDays | None = Field(None, description="{\"2026-12-25\": [], \"2026-12-24\": [[\"08:00\", "
                                             "\"12:00\"]]}: that local date's hours instead of its weekday's (none: "
                                             "closed all day); replaces the queue's")
    out_of_hours_message: str | None = Field(None, max_length=4096)
    menu_options: list[MenuOption] | None = None
    auto_assign: bool | None = Field(None, description="give each ticket that comes to wait here to the online "
                                                       "agent with the fewest open tickets (within their "
                                                       "maxOpenTickets); a queue with a menu routes instead")

    _unique_options = field_validator("menu_options")(unique_options)


class QueueCreate(QueueFields):
    name: str = Field(min_length=1, max_length=100)


class QueueOut(OutSchema):
    id: int
    name: str
    color: str
    greeting_message: str
    priority: int
    user_ids: list[int]
    business_hours: dict[str, list[list[str]]]
    special_days: dict[str, list[list[str]]]
    out_of_hours_message: str
    menu_options: list[dict]
    auto_assign: bool
    open_now: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime


class QueueQuery(PageQuery):
    search: str | None = None


def owned_ids(model: type[peewee.Model], ids: list[int], field: str) -> list[int]:
    """`ids` deduplicated, when each is a record of the caller's company; 400 naming the others."""
    wanted = list(dict.fromkeys(ids))
    found = {row.id for row in owned(model).select(model.id).where(model.id.in_(wanted))}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ValidationFailed("some ids are not records of your company", {field: f"unknown ids: {missing}"})
    return wanted


def replace_links(owner: peewee.Field, owner_id: int, other: peewee.Field, other_ids: list[int]) -> None:
    """Make the user-queue links of one user (or one queue) exactly `other_ids`."""
    UserQueue.delete().where(owner == owner_id).execute()
    if other_ids:
        UserQueue.insert_many([{owner.name: owner_id, other.name: i} for i in other_ids]).execute()


def set_user_queues(user_id: int, queue_ids: list[int]) -> None:
    replace_links(UserQueue.user, user_id, UserQueue.queue, owned_ids(Queue, queue_ids, "queueIds"))


def linked_ids(owner: peewee.Field, owner_ids: list[int], other: peewee.Field) -> dict[int, list[int]]:
    """{owner id: sorted linked ids} for many users (or queues) in one query."""
    links: dict[int, list[int]] = {i: [] for i in owner_ids}
    for row in UserQueue.select(owner, other).where(owner.in_(owner_ids)).order_by(other).tuples():
        links[row[0]].append(row[1])
    return links


def queue_json(queue: Queue, user_ids: list[int] | None = None, timezone: str | None = None) -> dict:
    if user_ids is None:
        user_ids = queue_members(queue.id)
    timezone = timezone or Company.get_by_id(queue.company_id).timezone
    return QueueOut.model_validate({
        **snapshot(queue), "greeting_message": queue.greeting, "user_ids": user_ids,
        "open_now": is_open(queue, utcnow(), timezone), "created_at": queue.created_at, "updated_at": queue.updated_at,
    }).to_json()


def queue_members(queue_id: int) -> list[int]:
    return linked_ids(UserQueue.queue, [queue_id], UserQueue.user)[queue_id]


def save_queue(queue: Queue, body: QueueFields) -> None:
    """Write the fields sent (and the members, when sent); 409 for a name the company already uses.

    Every queue field has a value, so a null sent for one leaves it as it is.
    """
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    user_ids = changes.pop("user_ids", None)
    if "greeting_message" in changes:
        changes["greeting"] = changes.pop("greeting_message")
    if "menu_options" in changes:
        owned_ids(Queue, [option["queue_id"] for option in changes["menu_options"]], "menuOptions")
        changes["menu_options"] = [
            {"option": o["option"], "label": o["label"], "queueId": o["queue_id"]} for o in changes["menu_options"]
        ]
    for name, value in changes.items():
        setattr(queue, name, value)
    try:
        with database.atomic():
            queue.save()
            if user_ids is not None:
                replace_links(UserQueue.queue, queue.id, UserQueue.user, owned_ids(User, user_ids, "userIds"))
    except peewee.IntegrityError:
        raise Conflict("a queue with this name exists", {"name": "already taken"}) from None


@blueprint.get("")
@endpoint(summary="List the company's queues", tags=["queues"], query=QueueQuery, response=page_of(QueueOut))
def list_queues(query: QueueQuery):
    queues = owned(Queue).order_by(Queue.priority, Queue.name)
    if query.search:
        queues = queues.where(holds(query.search, Queue.name))
    members = linked_ids(UserQueue.queue, [q.id for q in queues.paginate(query.page, query.page_size)], UserQueue.user)
    timezone = Company.get_by_id(current_principal().company_id).timezone
    return paginate(queues, query, lambda q: queue_json(q, members.get(q.id, []), timezone))


@blueprint.post("")
@endpoint(summary="Create a queue", tags=["queues"], body=QueueCreate, response=QueueOut, status=201, roles=MANAGERS,
          errors=[409])
def create_queue(body: QueueCreate):
    queue = Queue(company=current_principal().company_id)
    save_queue(queue, body)
    log_change("created", queue, user_ids=queue_members(queue.id))
    return queue_json(queue)


@blueprint.get("/<int:queue_id>")
@endpoint(summary="Show a queue", tags=["queues"], response=QueueOut, errors=[404])
def show_queue(queue_id: int):
    return queue_json(get_owned(Queue, queue_id, "queue"))


@blueprint.patch("/<int:queue_id>")
@endpoint(summary="Change a queue", tags=["queues"], body=QueueFields, response=QueueOut, roles=MANAGERS,
          errors=[404, 409])
def update_queue(queue_id: int, body: QueueFields):
    queue = get_owned(Queue, queue_id, "queue")
    before = snapshot(queue, user_ids=queue_members(queue.id))
    hours = (queue.business_hours, queue.special_days)
    save_queue(queue, body)
    log_change("updated", queue, before, user_ids=queue_members(queue.id))
    if (queue.business_hours, queue.special_days) != hours:  # its tickets' business-hours SLAs count other hours
        enqueue_retiming("queue", queue.id, queue.company_id, current_principal().user_id)
    return queue_json(queue)


@blueprint.delete("/<int:queue_id>")
@endpoint(summary="Delete a queue (its tickets stay, without a queue; menu options to it go)", tags=["queues"],
          status=204, roles=MANAGERS, errors=[404])
def delete_queue(queue_id: int):
    queue = get_owned(Queue, queue_id, "queue")
    log_change("deleted", queue)
    with database.atomic():
        for other in owned(Queue).where(Queue.id != queue.id):
            kept = [option for option in other.menu_options if option.get("queueId") != queue.id]
            if kept != other.menu_options:
                other.menu_options = kept
                other.save()
        queue.delete_instance()
