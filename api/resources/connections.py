"""WhatsApp connections: what a number is, and whether the gateway should hold its session."""

from __future__ import annotations

from typing import Literal

import peewee
from flask import Blueprint, Response
from pydantic import Field

from api.endpoint import endpoint
from api.errors import Conflict, NotFound
from api.pagination import paginate
from api.plan_limits import enforce_plan_limit
from api.schemas import OutSchema, PageQuery, QuerySchema, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned
from api.security import current_principal
from db.base import database
from db.connections import Connection
from db.queues import Queue
from wharf.redis_client import redis_client
from workers.broker import broker
from workers.chat_actions import enqueue_on_session
from workers.events import announcing
from workers.gateway.dispatch import login_code_key
from workers.messages import fail_unsent_of, gateway_queue
from workers.number_limits import SendLimits, limit_state
from workers.presence import show_online
from workers.transports import simulator

blueprint = Blueprint("connections", __name__, url_prefix="/api/connections")
MANAGERS = ("super", "admin")


class ConnectionOut(OutSchema):
    id: int
    name: str
    transport: str
    status: str
    phone: str | None
    is_default: bool
    default_queue_id: int | None
    greeting_message: str
    farewell_message: str
    ignore_groups: bool
    read_messages: bool
    always_online: bool
    enabled: bool
    reconnects: int
    last_error: str | None
    last_seen_at: UtcDateTime | None
    send_limits: dict | None = Field(None, description="this number's send limits; null: the safe defaults "
                                                       "(none for a simulator connection)")


READ_MESSAGES = ("the contacts' messages are read as they come (Evolution API's readMessages): they see blue ticks at "
                 "once, as a bot's number shows; agents' unread counts stay as they are")


ALWAYS_ONLINE = ("the number shows \"online\" to its contacts while its session is up (Evolution API's alwaysOnline); "
                 "otherwise \"last seen\", and the phone's own app keeps its notifications, until an agent opens a "
                 "chat or a webhook wants contacts' typing (WhatsApp tells typing only to a session that is online)")


class ConnectionCreate(Schema):
    name: str = Field(min_length=1, max_length=100)
    transport: Literal["simulator", "neonize"] = "simulator"
    is_default: bool = False
    default_queue_id: int | None = None
    greeting_message: str = Field("", max_length=4096)
    farewell_message: str = Field("", max_length=4096)
    ignore_groups: bool = Field(False, description="messages in the WhatsApp groups the number is in open no ticket "
                                                   "and are not kept (sending to a group still works)")
    read_messages: bool = Field(False, description=READ_MESSAGES)
    always_online: bool = Field(False, description=ALWAYS_ONLINE)
    send_limits: SendLimits | None = None


class ConnectionUpdate(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    is_default: bool | None = None
    default_queue_id: int | None = None
    greeting_message: str | None = Field(None, max_length=4096)
    farewell_message: str | None = Field(None, max_length=4096)
    ignore_groups: bool | None = None
    read_messages: bool | None = Field(None, description=READ_MESSAGES)
    always_online: bool | None = Field(None, description=ALWAYS_ONLINE)
    send_limits: SendLimits | None = Field(None, description="replaces the number's limits; null: the defaults")


class ConnectionStartIn(Schema):
    pair_phone: str | None = Field(None, pattern=r"^\+?\d{8,15}$", description="log in with a pair code, not a QR")


class LoginCodeOut(OutSchema):
    qr: str | None
    pair_code: str | None


class QrQuery(QuerySchema):
    format: Literal["json", "png"] = "json"


def connection_json(connection: Connection) -> dict:
    return ConnectionOut.model_validate(connection).to_json()


def save_connection(connection: Connection, changes: dict) -> Connection:
    """Apply changes; a default connection is the company's only one; names are unique."""
    if changes.get("default_queue_id") is not None:
        get_owned(Queue, changes["default_queue_id"], "queue")
    if changes.get("send_limits") is not None:
        changes["send_limits"] = SendLimits.model_validate(changes["send_limits"]).model_dump(by_alias=True)
    for name, value in changes.items():
        setattr(connection, name, value)
    try:
        with database.atomic():
            if connection.is_default:
                Connection.update(is_default=False).where(
                    Connection.company == connection.company_id, Connection.id != (connection.id or 0)
                ).execute()
            connection.save()
    except peewee.IntegrityError:
        raise Conflict("a connection with this name exists", {"name": "already taken"}) from None
    return connection


@blueprint.get("")
@endpoint(summary="List connections", tags=["connections"], query=PageQuery, response=page_of(ConnectionOut))
def list_connections(query: PageQuery):
    return paginate(owned(Connection).order_by(Connection.name), query, connection_json)


@blueprint.post("")
@endpoint(summary="Create a connection (stopped until started)", tags=["connections"], body=ConnectionCreate,
          response=ConnectionOut, status=201, roles=MANAGERS, errors=[404, 409])
def create_connection(body: ConnectionCreate):
    company_id = current_principal().company_id
    with database.atomic():
        enforce_plan_limit(company_id, "connections", owned(Connection))
        first = not owned(Connection).exists()
        fields = body.model_dump()
        fields["is_default"] = fields["is_default"] or first
        return ConnectionOut.model_validate(save_connection(Connection(company=company_id), fields))


@blueprint.get("/<int:connection_id>")
@endpoint(summary="Show a connection", tags=["connections"], response=ConnectionOut, errors=[404])
def show_connection(connection_id: int):
    return ConnectionOut.model_validate(get_owned(Connection, connection_id, "connection"))


@blueprint.patch("/<int:connection_id>")
@endpoint(summary="Change a connection", tags=["connections"], body=ConnectionUpdate, response=ConnectionOut,
          roles=MANAGERS, errors=[404, 409])
def update_connection(connection_id: int, body: ConnectionUpdate):
    connection = get_owned(Connection, connection_id, "connection")
    changes = body.changes(not_null={"name", "is_default", "greeting_message", "farewell_message", "ignore_groups",
                                       "read_messages", "always_online"})
    shown_online = connection.always_online
    saved = save_connection(connection, changes)
    if saved.always_online != shown_online and saved.status == "connected":
        enqueue_on_session(show_online, saved.id)
    return ConnectionOut.model_validate(saved)


@blueprint.delete("/<int:connection_id>")
@endpoint(summary="Delete a connection; its session ends, and its messages not sent yet are failed",
          tags=["connections"], status=204, roles=MANAGERS, errors=[404])
def delete_connection(connection_id: int):
    connection = get_owned(Connection, connection_id, "connection")
    with announcing() as announcements:
        fail_unsent_of(connection.id, "its connection was deleted", announcements)
        connection.delete_instance()
    broker.flush(gateway_queue(connection.id))  # what waited there for the session: failed above
    if connection.transport == "simulator":  # its simulated network goes with it
        simulator.reset(redis_client(), connection_id)


def set_wanted_state(connection_id: int, **fields) -> Connection:
    connection = get_owned(Connection, connection_id, "connection")
    Connection.update(**fields).where(Connection.id == connection.id).execute()
    return Connection.get_by_id(connection.id)


@blueprint.post("/<int:connection_id>/start")
@endpoint(summary="Ask the gateway to start the session (QR or pair code follows)", tags=["connections"],
          body=ConnectionStartIn, optional_body=True, response=ConnectionOut, status=202, roles=MANAGERS, errors=[404])
def start_connection(connection_id: int, body: ConnectionStartIn | None):
    pair_phone = body.pair_phone.lstrip("+") if body and body.pair_phone else None
    connection = get_owned(Connection, connection_id, "connection")
    status = connection.status if connection.enabled else "starting"
    return ConnectionOut.model_validate(
        set_wanted_state(connection_id, enabled=True, logout_requested=False, pair_phone=pair_phone, status=status)
    )


@blueprint.post("/<int:connection_id>/stop")
@endpoint(summary="Ask the gateway to end the session (the login is kept)", tags=["connections"],
          response=ConnectionOut, status=202, roles=MANAGERS, errors=[404])
def stop_connection(connection_id: int):
    return ConnectionOut.model_validate(set_wanted_state(connection_id, enabled=False))


@blueprint.post("/<int:connection_id>/logout")
@endpoint(summary="Log the number out of WhatsApp; a new QR login is needed", tags=["connections"],
          response=ConnectionOut, status=202, roles=MANAGERS, errors=[404])
def logout_connection(connection_id: int):
    return ConnectionOut.model_validate(set_wanted_state(connection_id, enabled=False, logout_requested=True))


@blueprint.get("/<int:connection_id>/qr")
@endpoint(summary="The current login QR (text, or PNG with ?format=png) or pair code", tags=["connections"],
          query=QrQuery, response=LoginCodeOut, roles=MANAGERS, errors=[404])
def login_code(connection_id: int, query: QrQuery):
    get_owned(Connection, connection_id, "connection")
    codes = {k.decode(): v.decode() for k, v in redis_client().hgetall(login_code_key(connection_id)).items()}
    if query.format == "png":
        if not codes.get("qr"):
            raise NotFound("QR code (the session is not waiting for a scan)")
        import io

        import segno

        image = io.BytesIO()
        segno.make(codes["qr"], error="l").save(image, kind="png", scale=6, border=2)
        return Response(image.getvalue(), mimetype="image/png")
    return LoginCodeOut(qr=codes.get("qr"), pair_code=codes.get("pairCode"))




class LimitStateOut(OutSchema):
    connection_id: int
    limited: bool = Field(description="false: a simulator connection without limits")
    limits: dict | None
    tokens: float | None = Field(description="sends the token bucket allows back to back now")
    sent_this_hour: int
    sent_today: int
    hourly_cap: int | None
    daily_cap: int | None = Field(description="today's cap, the warm-up included")
    quiet_now: bool
    warmup_day: int
    cooldown_seconds: float = Field(description="left of a pause after a ban signal")


@blueprint.get("/<int:connection_id>/limits")
@endpoint(summary="The number's send limits and where it stands now (campaigns and scheduled messages)",
          tags=["connections"], response=LimitStateOut, errors=[404])
def show_limits(connection_id: int):
    get_owned(Connection, connection_id, "connection")
    return LimitStateOut.model_validate(limit_state(connection_id))
