"""Tenancy: every record a caller reads or changes belongs to the caller's company.

`get_owned` is the one way a handler fetches a record by id: another company's id is a 404,
exactly like an id that does not exist, so ids leak nothing across companies.
"""

from __future__ import annotations

from typing import TypeVar

import peewee

from api.errors import NotFound
from api.security import current_principal

M = TypeVar("M", bound=peewee.Model)


def owned(model: type[M]) -> peewee.ModelSelect:
    """All rows of `model` that belong to the caller's company."""
    return model.select().where(model.company == current_principal().company_id)


def get_owned(model: type[M], record_id: int, what: str | None = None) -> M:
    row = owned(model).where(model.id == record_id).first()
    if row is None:
        raise NotFound(what or model.__name__.lower())
    return row


def get_or_404(model: type[M], record_id: int, what: str | None = None) -> M:
    """A record by id across companies: for the super admin's installation-wide resources."""
    row = model.get_or_none(model.id == record_id)
    if row is None:
        raise NotFound(what or model.__name__.lower())
    return row
