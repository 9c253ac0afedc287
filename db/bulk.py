"""Multi-row statements too big for Peewee's query builder, with the driver binding the values.

Peewee renders every value of an `insert_many` in Python (about 60 ms per 1,000 contact rows, more than
PostgreSQL takes to write them); psycopg2's `execute_values` binds them in C. SQLite gets the same
statement with `?` placeholders. The caller writes the statement's tail (ON CONFLICT ..., RETURNING ...)
in SQL both databases read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import peewee
from psycopg2.extras import execute_values

from db.base import database, is_postgres


def execute_with_values(sql: str, rows: Sequence[Sequence[Any]], returning: bool = False) -> list[tuple]:
    """Run `sql`, whose one `%s` stands for the VALUES list of `rows` (tuples of database values, all
    of one length); the rows the statement returns when `returning`. A VALUES list's columns are
    `column1`, `column2`, ... in both databases (`UPDATE ... FROM (VALUES %s) AS v ... v.column1`)."""
    if not rows:
        return []
    if is_postgres():
        found = execute_values(database.cursor(), sql, rows, page_size=len(rows), fetch=returning)
        return found if returning else []
    one_row = f"({', '.join('?' * len(rows[0]))})"
    cursor = database.execute_sql(sql.replace("%s", ", ".join([one_row] * len(rows)), 1),
                                  [value for row in rows for value in row])
    return cursor.fetchall() if returning else []


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "",
                returning: bool = False) -> list[tuple]:
    """INSERT `rows` (tuples of database values, in `columns` order) into `table` in one statement;
    the rows RETURNING gives when `returning`."""
    names = ", ".join(f'"{column}"' for column in columns)
    return execute_with_values(f'INSERT INTO "{table}" ({names}) VALUES %s {tail}', rows, returning)


def insert_models(models: Sequence[peewee.Model], tail: str = "", returning: bool = False) -> list[tuple]:
    """INSERT unsaved instances of one model, every column but the automatic id as the instances hold
    it (their defaults included), in one statement; the rows RETURNING gives when `returning`."""
    if not models:
        return []
    meta = type(models[0])._meta
    fields = [field for field in meta.sorted_fields if not isinstance(field, peewee.AutoField)]
    rows = [tuple(field.db_value(model.__data__.get(field.name)) for field in fields) for model in models]
    return insert_rows(meta.table_name, [field.column_name for field in fields], rows, tail, returning)
