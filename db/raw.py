"""Hand-written SQL for the hottest statements, with the driver binding the values.

Peewee builds each statement's SQL in Python, about 0.3 ms of CPU a statement: on a path that runs
a handful of them per request (a send through the API, its Job row, the caller's user) that is more
than PostgreSQL takes to answer. These helpers run SQL written once as text with `%s` placeholders
(PostgreSQL's style; SQLite gets `?`) and still hand back model instances, converted by the fields;
`db.bulk.insert_models` writes unsaved instances the same way. Everything else keeps Peewee's query builder.
"""

from __future__ import annotations

from typing import Any, TypeVar

import peewee

from db.base import database, is_postgres

M = TypeVar("M", bound=peewee.Model)


def bound(sql: str) -> str:
    """`sql`, written with `%s` placeholders, in the parameter style of the bound database."""
    return sql if is_postgres() else sql.replace("%s", "?")


def execute(sql: str, *params: Any):
    """Run one statement; returns the cursor."""
    return database.execute_sql(bound(sql), params)


def select_one(model: type[M], sql: str, *params: Any) -> M | None:
    """The first row of `sql` as a `model` instance (columns that are not the model's become attributes)."""
    return next(iter(model.raw(bound(sql), *params)), None)
