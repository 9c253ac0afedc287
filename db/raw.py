"""Hand-written SQL for the hottest statements, with the driver binding the values.

Peewee builds each statement's SQL in Python, about 0.3 ms of CPU a statement: on a path that runs
a handful of them per request (a send through the API, its Job row, the caller's user) that is more
than PostgreSQL takes to answer. These helpers run SQL written once as text with `%s` placeholders
(PostgreSQL's style; SQLite gets `?`) and still hand back model instances, converted by the fields;
`db.bulk.insert_models` writes unsaved instances the same way. Everything else keeps Peewee's query builder.
"""

from __future__ import annotations

import weakref
from typing import Any, TypeVar

import peewee

from db.base import database, is_postgres

M = TypeVar("M", bound=peewee.Model)


def bound(sql: str) -> str:
    """`sql`, written with `%s` placeholders, in the parameter style of the bound database."""
    return sql if is_postgres() else sql.replace("%s", "?")


class Prepared:
    """A statement PostgreSQL plans once per connection rather than at every run; SQLite runs the text.

    For a hot statement whose planning outweighs its execution (a send's conversation lookup: 0.3 ms of
    planning, 0.06 ms of execution). It is prepared on each connection's first use of it (a prepared
    statement outlives its transaction, even one rolled back); PostgreSQL plans its first five runs for
    their values, then keeps one generic plan if that costs no more. A prepared SELECT names its columns:
    with `*`, a migration that adds one would make every run fail ("cached plan must not change result type").
    """

    def __init__(self, name: str, sql: str, parameter_types: tuple[str, ...]) -> None:
        if sql.count("%s") != len(parameter_types):
            raise ValueError(f"{name}: one type for each %s placeholder")
        self.sql = sql
        numbered = sql
        for number in range(1, len(parameter_types) + 1):
            numbered = numbered.replace("%s", f"${number}", 1)
        self.prepare = f"PREPARE {name} ({', '.join(parameter_types)}) AS {numbered}"
        self.run = f"EXECUTE {name} ({', '.join(['%s'] * len(parameter_types))})"
        self.prepared_on: weakref.WeakSet = weakref.WeakSet()  # the connections that hold it

    def execute(self, *params: Any):
        if not is_postgres():
            return execute(self.sql, *params)
        connection = database.connection()
        if connection not in self.prepared_on:
            database.execute_sql(self.prepare)
            self.prepared_on.add(connection)
        return database.execute_sql(self.run, params)


def execute(sql: str | Prepared, *params: Any):
    """Run one statement; returns the cursor."""
    if isinstance(sql, Prepared):
        return sql.execute(*params)
    return database.execute_sql(bound(sql), params)


def select_one(model: type[M], sql: str | Prepared, *params: Any) -> M | None:
    """The first row of `sql` as a `model` instance (columns that are not the model's become attributes)."""
    cursor = execute(sql, *params)
    row = cursor.fetchone()
    return None if row is None else model_from_row(model, [column[0] for column in cursor.description], row)


def model_from_row(model: type[M], columns: list[str], row: tuple) -> M:
    """The instance `model.raw` would make of `row`, whose `columns` have distinct names: each of the model's
    columns converted by its field, any other column as a plain attribute.

    Peewee's raw query resolves the cursor's columns against the model again for every query, which cost
    four times the statement itself on the hot path (0.18 ms of CPU against 0.05 ms for a user's row)."""
    instance = model(__no_default__=1)
    fields = model._meta.combined  # by field name and by column name
    for column, value in zip(columns, row, strict=True):
        field = fields.get(column)
        if field is None:
            setattr(instance, column, value)
        else:
            instance.__data__[field.name] = field.python_value(value)
    return instance
