"""Macros, as Chatwoot's: a named run of actions an agent applies to tickets in one go ("send the price list, tag
`price`, snooze a day"; "thank, tag `solved`, close").

Company-wide macros (admins and supervisors write them, programs too) are everyone's; personal ones only their
author's. Running one (`POST /:id/run`) does its actions on each ticket in order, each as its own endpoint does it
(the `TicketWork` of api/resources/tickets.py, and a reply as `POST /api/messages` sends one): the caller must see the
ticket, each action in a transaction of its own with its history and events. The first action that fails stops the
macro on that ticket, the ones before it stay done, and the answer says which action failed and why; the other
tickets go on. What the actions name (tags, a queue, an agent, a quick message) is checked when the macro is saved,
and again before it runs: one deleted since is a 409 that changes no ticket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from flask import Blueprint
from pydantic import Field, model_validator

from api.endpoint import endpoint
from api.errors import ApiError, Conflict, Forbidden, NotFound, ValidationFailed
from api.pagination import paginate
from api.resources.messages import (
    check_sendable,
    filled_in,
    quick_message_text,
    quick_message_with_file,
    signed,
)
from api.resources.ticket_bulk import outcome
from api.resources.tickets import (
    WRITE_SCOPE,
    AssignIn,
    CloseIn,
    NoteIn,
    SnoozeIn,
    TicketWork,
    TransferIn,
    accepting,
    acting_user_id,
    announced,
    closing,
    fields_setting,
    noting,
    prioritising,
    read_ticket,
    snoozing,
    transferring,
)
from api.schemas import OutSchema, PageQuery, Schema, UtcDateTime, page_of
from api.scoping import get_owned, owned, shared_or_own, visible_tickets
from api.security import current_principal
from api.ticket_json import Priority, ticket_out
from db.base import holds, utcnow
from db.contacts import Contact, Tag
from db.macros import Macro
from db.tickets import Ticket, change_ticket_tags
from db.webhooks import Webhook, WebhookDelivery
from workers.events import announcing
from workers.messages import dispatch_outbound, write_outbound
from workers.webhooks import MACRO_EVENT, envelope

blueprint = Blueprint("macros", __name__, url_prefix="/api/macros")
WRITERS_OF_COMPANY_WIDE = ("super", "admin", "supervisor", "api_key")
MOST_TICKETS = 100
Scope = Literal["company", "personal"]


class SendMessageAction(Schema):
    type: Literal["send_message"]
    body: str | None = Field(None, min_length=1, max_length=4096, description="the reply, its {{variables}} filled "
                             "in for the ticket; with quickMessageId, said instead of the quick message's text")
    quick_message_id: int | None = Field(None, description="a quick message, sent with its file")

    @model_validator(mode="after")
    def something(self) -> SendMessageAction:
        if self.body is None and self.quick_message_id is None:
            raise ValueError("give the body, a quickMessageId or both")
        return self


class NoteAction(NoteIn):
    type: Literal["note"]


class AcceptAction(AssignIn):
    type: Literal["accept"]


class TransferAction(TransferIn):
    type: Literal["transfer"]


class TagsAction(Schema):
    type: Literal["add_tags", "remove_tags"]
    tag_ids: list[int] = Field(min_length=1, max_length=50)


class PriorityAction(Schema):
    type: Literal["priority"]
    priority: Priority | None = Field(description="null clears it")


class SnoozeAction(Schema):
    type: Literal["snooze"]
    minutes: int | None = Field(None, ge=1, le=90 * 24 * 60, description="for how long; not given or null: until "
                                                                         "the contact writes")


class CloseAction(CloseIn):
    type: Literal["close"]


class ReadAction(Schema):
    type: Literal["read"]


class FieldsAction(Schema):
    type: Literal["custom_fields"]
    custom_fields: dict[str, Any] = Field(min_length=1, description="ticket fields to set, by the keys of "
                                                                     "/api/ticket-fields; null takes one away")


class WebhookAction(Schema):
    type: Literal["webhook"]
    webhook_id: int = Field(description="one of the company's webhooks (enabled when the macro runs), sent "
                                        "`macro:run` with the ticket as the actions before left it, whatever events "
                                        "it receives")


MacroAction = Annotated[
    SendMessageAction | NoteAction | AcceptAction | TransferAction | TagsAction | PriorityAction | SnoozeAction
    | CloseAction | ReadAction | FieldsAction | WebhookAction,
    Field(discriminator="type"),
]


class MacroFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    actions: list[MacroAction] | None = Field(None, min_length=1, max_length=20, description="done in this order")


class MacroCreate(MacroFields):
    name: str = Field(min_length=1, max_length=100)
    actions: list[MacroAction] = Field(min_length=1, max_length=20, description="done in this order")
    scope: Scope = Field("personal", description="personal: yours alone; company: everyone's (admins, supervisors "
                                                 "and programs write those)")


class MacroOut(OutSchema):
    id: int
    name: str
    scope: Scope
    user_id: int | None
    actions: list[dict[str, Any]]
    created_at: UtcDateTime
    updated_at: UtcDateTime


class MacroQuery(PageQuery):
    search: str | None = None
    scope: Scope | None = None


class MacroRunIn(Schema):
    ticket_ids: list[int] = Field(min_length=1, max_length=MOST_TICKETS, description="an id given twice counts once")


class MacroRunFailure(OutSchema):
    ticket_id: int
    action: int | None = Field(description="the failed action's place in `actions`, from 0; null: the ticket itself "
                                           "(not found, or not one you see)")
    error: str = Field(description="as an error's `error`: not_found, conflict...")
    message: str
    status_code: int = Field(description="what the action's own endpoint would have answered")


class MacroRunOut(OutSchema):
    done: list[int] = Field(description="the tickets every action was done on")
    failed: list[MacroRunFailure]


def sending(action: SendMessageAction) -> TicketWork:
    """The reply as `POST /api/messages` sends one to a ticket: the quick message's file, the text filled in for the
    ticket and signed with the agent's name where the company signs."""
    quick, media = None, {}
    if action.quick_message_id is not None:
        quick, media = quick_message_with_file(action.quick_message_id, action.body)
    user = current_principal().user

    def send(ticket: Ticket) -> dict:
        check_sendable(ticket)
        text = filled_in(action.body, ticket) if action.body else None
        body = quick_message_text(quick, media, text, ticket) if quick else signed(text)
        with announced(ticket) as state:
            outbound = write_outbound(ticket, body, user_id=user.id if user else None, **media)
        dispatch_outbound(outbound)
        return state

    return send


def tag_changing(action: TagsAction) -> TicketWork:
    """Add the tags to the ticket's, or take them off; the others stay."""
    tag_ids = set(action.tag_ids)
    if owned(Tag).where(Tag.id.in_(tag_ids)).count() != len(tag_ids):
        raise NotFound("tag")

    def change(ticket: Ticket) -> dict:
        with announced(ticket) as state:
            change_ticket_tags(ticket.id, tag_ids, add=action.type == "add_tags", by_user_id=acting_user_id())
        return state

    return change


def snoozing_for(action: SnoozeAction) -> TicketWork:
    until = utcnow() + dt.timedelta(minutes=action.minutes) if action.minutes else None
    return snoozing(SnoozeIn(until=until))


def calling_webhook(action: WebhookAction, macro: Macro) -> TicketWork:
    """Chatwoot's "send webhook event": the ticket as the macro has left it so far, with the macro and who ran it, to
    the webhook named (`macro:run`), a signed delivery retried and logged as any, written with nothing else to undo."""
    hook = get_owned(Webhook, action.webhook_id, "webhook")
    user = current_principal().user

    def call(ticket: Ticket) -> dict:
        if not Webhook.get_by_id(hook.id).enabled:
            raise Conflict(f"the webhook {hook.id} is disabled")
        state = ticket_out(ticket).to_json()
        data = {"macro": {"id": macro.id, "name": macro.name}, "userId": user.id if user else None, "ticket": state}
        with announcing() as announcements:
            delivery = WebhookDelivery.create(webhook=hook.id, event=MACRO_EVENT,
                                              payload=envelope(MACRO_EVENT, ticket.company_id, data))
            announcements.deliveries.append(delivery.id)
        return state

    return call


# Each action's TicketWork, made (and what it names checked) once for all the tickets of a run
WORK: dict[str, Callable[[Any, Macro], TicketWork]] = {
    "send_message": lambda action, _: sending(action),
    "note": lambda action, _: noting(action),
    "accept": lambda action, _: accepting(action),
    "transfer": lambda action, _: transferring(action),
    "add_tags": lambda action, _: tag_changing(action),
    "remove_tags": lambda action, _: tag_changing(action),
    "priority": lambda action, _: prioritising(action.priority),
    "snooze": lambda action, _: snoozing_for(action),
    "close": lambda action, _: closing(action),
    "read": lambda _, __: read_ticket,
    "custom_fields": lambda action, _: fields_setting(action.custom_fields),
    "webhook": calling_webhook,
}


def works_of(macro: Macro, actions: list[Any], refusal: Callable[[str, dict[str, str]], ApiError]) -> list[TicketWork]:
    """The actions' TicketWork, in order, for a run of `macro`; what one names that the caller cannot use (a tag
    deleted, a queue of another company, a quick message not theirs...) is `refusal(message, {"actions[i]": why})`."""
    works = []
    for index, action in enumerate(actions):
        try:
            works.append(WORK[action.type](action, macro))
        except ApiError as error:
            raise refusal(f"action {index} ({action.type}) cannot run: {error.message}",
                          {f"actions[{index}]": error.message}) from None
    return works


def macro_json(macro: Macro) -> dict:
    return MacroOut(id=macro.id, name=macro.name, scope="company" if macro.user_id is None else "personal",
                    user_id=macro.user_id, actions=macro.actions, created_at=macro.created_at,
                    updated_at=macro.updated_at).to_json()


def stored_actions(macro: Macro, actions: list[Any]) -> list[dict]:
    """The actions as kept (and shown): checked as a run checks them, each with only the fields it was given."""
    works_of(macro, actions, ValidationFailed)
    return [action.model_dump(mode="json", by_alias=True, exclude_unset=True) for action in actions]


def visible_macro(macro_id: int) -> Macro:
    macro = shared_or_own(Macro).where(Macro.id == macro_id).first()
    if macro is None:
        raise NotFound("macro")
    return macro


def ensure_writable(macro: Macro) -> None:
    """Personal ones are their author's (only they see them); company-wide ones are the managers' and programs'."""
    if macro.user_id is None and current_principal().role not in WRITERS_OF_COMPANY_WIDE:
        raise Forbidden("only supervisors and admins change company-wide macros")


@blueprint.get("")
@endpoint(summary="The macros the caller may run: the company's and their own", tags=["macros"], query=MacroQuery,
          response=page_of(MacroOut), scope=WRITE_SCOPE)
def list_macros(query: MacroQuery):
    rows = shared_or_own(Macro).order_by(Macro.name, Macro.id)
    if query.search:
        rows = rows.where(holds(query.search, Macro.name))
    if query.scope:
        rows = rows.where(Macro.user.is_null() if query.scope == "company" else Macro.user.is_null(False))
    return paginate(rows, query, macro_json)


@blueprint.post("")
@endpoint(summary="Save a macro", tags=["macros"], body=MacroCreate, response=MacroOut, status=201, errors=[403],
          scope=WRITE_SCOPE)
def create_macro(body: MacroCreate):
    principal = current_principal()
    if body.scope == "personal" and principal.user is None:
        raise ValidationFailed("a program has no macros of its own: save a company one", {"scope": "not personal"})
    macro = Macro(company=principal.company_id, user=principal.user.id if body.scope == "personal" else None,
                  name=body.name)
    macro.actions = stored_actions(macro, body.actions)
    ensure_writable(macro)
    macro.save()
    return macro_json(macro)


@blueprint.get("/<int:macro_id>")
@endpoint(summary="A macro", tags=["macros"], response=MacroOut, errors=[404], scope=WRITE_SCOPE)
def show_macro(macro_id: int):
    return macro_json(visible_macro(macro_id))


@blueprint.patch("/<int:macro_id>")
@endpoint(summary="Rename a macro or replace its actions", tags=["macros"], body=MacroFields, response=MacroOut,
          errors=[403, 404], scope=WRITE_SCOPE)
def update_macro(macro_id: int, body: MacroFields):
    macro = visible_macro(macro_id)
    ensure_writable(macro)
    changes = body.changes(not_null={"name", "actions"})
    if "name" in changes:
        macro.name = changes["name"]
    if "actions" in changes:
        macro.actions = stored_actions(macro, body.actions)
    macro.save()
    return macro_json(macro)


@blueprint.delete("/<int:macro_id>")
@endpoint(summary="Delete a macro", tags=["macros"], status=204, errors=[403, 404], scope=WRITE_SCOPE)
def delete_macro(macro_id: int):
    macro = visible_macro(macro_id)
    ensure_writable(macro)
    macro.delete_instance()
    return "", 204


@blueprint.post("/<int:macro_id>/run")
@endpoint(summary="Run a macro on up to 100 tickets: its actions in order on each, as their own endpoints do them; "
          "`done` lists the tickets every action was done on, `failed` the others with the action that failed and "
          "why (the ones before it stay done)", tags=["macros"], body=MacroRunIn, response=MacroRunOut,
          errors=[404, 409], scope=WRITE_SCOPE)
def run_macro(macro_id: int, body: MacroRunIn):
    macro = visible_macro(macro_id)
    actions = MacroFields.model_validate({"actions": macro.actions}).actions
    works = works_of(macro, actions, Conflict)
    ticket_ids = list(dict.fromkeys(body.ticket_ids))
    tickets = {ticket.id: ticket for ticket in visible_tickets().where(Ticket.id.in_(ticket_ids))}
    done, failed = [], []
    for ticket_id in ticket_ids:
        failure = run_on(tickets.get(ticket_id), works)
        if failure is None:
            done.append(ticket_id)
        else:
            failed.append(MacroRunFailure(ticket_id=ticket_id, action=failure[0], error=failure[1].code,
                                          message=failure[1].message, status_code=failure[1].status))
    return MacroRunOut(done=done, failed=failed)


def run_on(ticket: Ticket | None, works: list[TicketWork]) -> tuple[int | None, ApiError] | None:
    """Do the actions on the ticket in order, each on the ticket as the one before left it; the first that fails
    (its place, and why) stops the rest."""
    if ticket is None:
        return None, NotFound("ticket")
    for index, work in enumerate(works):
        if index:
            ticket = Ticket.select(Ticket, Contact).join(Contact).where(Ticket.id == ticket.id).first()
            if ticket is None:  # deleted meanwhile
                return index, NotFound("ticket")
        if (error := outcome(work, ticket)) is not None:
            return index, error
    return None
