"""Multi-row INSERTs too big for Peewee's query builder, with the driver binding the values.

Peewee renders every value of an `insert_many` in Python (about 60 ms per 1,000 contact rows, more than
PostgreSQL takes to write them); psycopg2's `execute_values` binds them in C. SQLite gets the same
statement with `?` placeholders. The caller writes the statement's tail (ON CONFLICT ..., RETURNING ...)
in SQL both databases read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg2.extras import execute_values

from db.base import database, is_postgres


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = "",
                returning: bool = False) -> list[tuple]:
    """INSERT `rows` (tuples of database values, in `columns` order) into `table` in one statement;
    the rows RETURNING gives when `returning`."""
    if not rows:
        return []
    names = ", ".join(f'"{column}"' for column in columns)
    head = f'INSERT INTO "{table}" ({names}) VALUES '
    if is_postgres():
        cursor = database.cursor()
        found = execute_values(cursor, f"{head}%s {tail}", rows, page_size=len(rows), fetch=returning)
        return found if returning else []
    one_row = f"({', '.join('?' * len(columns))})"
    cursor = database.execute_sql(f"{head}{', '.join([one_row] * len(rows))} {tail}",
                                  [value for row in rows for value in row])
    return cursor.fetchall() if returning else []
