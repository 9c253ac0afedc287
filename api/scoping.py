"""Tenancy: every record a caller reads or changes belongs to the caller's company.

`get_owned` is the one way a handler fetches a record by id: another company's id is a 404,
exactly like an id that does not exist, so ids leak nothing across companies. Within a company,
an agent sees only some tickets (`db.tickets.visible_to`); `visible_ticket` is the one way a handler
fetches a ticket, or anything in one (its messages), for the caller.
"""

from __future__ import annotations

from typing import TypeVar

import peewee

from api.errors import NotFound
from api.security import current_principal
from db.contacts import Contact
from db.tickets import ROLES_SEEING_ALL_TICKETS, Ticket, visible_to

M = TypeVar("M", bound=peewee.Model)


def owned(model: type[M]) -> peewee.ModelSelect:
    """All rows of `model` that belong to the caller's company."""
    return model.select().where(model.company == current_principal().company_id)


def shared_or_own(model: type[M]) -> peewee.ModelSelect:
    """The caller's company's rows of `model` that are everyone's (no `user`) or the caller's own (a program has
    none): quick messages, macros."""
    user = current_principal().user
    return owned(model).where(model.user.is_null() | (model.user == (user.id if user else None)))


def get_owned(model: type[M], record_id: int, what: str | None = None) -> M:
    row = owned(model).where(model.id == record_id).first()
    if row is None:
        raise NotFound(what or model.__name__.lower())
    return row


def owned_or_own(model: type[M]) -> peewee.ModelSelect:
    """The company's rows of `model` for managers and programs; an agent's own (`model.user`) only, as with
    tickets an agent sees only some of the company's work."""
    principal = current_principal()
    if principal.user is None or principal.role in ROLES_SEEING_ALL_TICKETS:
        return owned(model)
    return owned(model).where(model.user == principal.user.id)


def get_or_404(model: type[M], record_id: int, what: str | None = None) -> M:
    """A record by id across companies: for the super admin's installation-wide resources."""
    row = model.get_or_none(model.id == record_id)
    if row is None:
        raise NotFound(what or model.__name__.lower())
    return row


def ticket_visibility() -> peewee.Expression:
    """The condition on `Ticket` of the caller's tickets; a program (API key) sees all of its company's."""
    principal = current_principal()
    if principal.user is None:
        return Ticket.company == principal.company_id
    return visible_to(principal.company_id, principal.user.id, principal.role)


def visible_tickets() -> peewee.ModelSelect:
    """The caller's tickets, with their contacts."""
    return Ticket.select(Ticket, Contact).join(Contact).switch(Ticket).where(ticket_visibility())


def visible_ticket(ticket_id: int) -> Ticket:
    ticket = visible_tickets().where(Ticket.id == ticket_id).first()
    if ticket is None:
        raise NotFound("ticket")
    return ticket


def sees_ticket(ticket: Ticket) -> bool:
    """Whether the caller may see a ticket of its company that was read by other means; the database is
    asked only about an agent's ticket that is not theirs."""
    principal = current_principal()
    if principal.user is None or principal.role in ROLES_SEEING_ALL_TICKETS or ticket.user_id == principal.user.id:
        return True
    return visible_tickets().where(Ticket.id == ticket.id).exists()
