"""Prepared statements (db.raw.Prepared) stay usable on a connection whatever its transactions and migrations do."""

from __future__ import annotations

import pytest

from db.base import database
from db.raw import Prepared, select_one
from db.tickets import Ticket


def test_a_prepared_statement_outlives_a_rollback_and_a_column_added_to_its_table(factories):
    ticket = factories.ticket(factories.company(), status="open")
    statement = Prepared("test_ticket_status", 'SELECT "id", "status" FROM "ticket" WHERE "id" = %s', ("integer",))

    with pytest.raises(ZeroDivisionError), database.atomic():
        assert select_one(Ticket, statement, ticket.id).status == "open"  # prepared in this transaction
        raise ZeroDivisionError
    database.execute_sql('ALTER TABLE "ticket" ADD COLUMN "added_later" integer')
    try:
        found = select_one(Ticket, statement, ticket.id)
    finally:
        database.execute_sql('ALTER TABLE "ticket" DROP COLUMN "added_later"')

    assert (found.id, found.status) == (ticket.id, "open")
    assert select_one(Ticket, statement, ticket.id + 1) is None
