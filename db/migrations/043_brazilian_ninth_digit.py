"""043: Brazilian mobile numbers kept with their ninth digit (+55 11 98765-4321), as `wharf.phones.to_e164` now reads
them and as a message from an account WhatsApp still names by eight digits now finds its contact: the contacts,
leads and opt-outs stored with eight digits get the ninth. One whose nine-digit twin is in the company already
stays as it is (the two are left for a person to tell apart); its messages now go to the twin.

The pattern is copied here, not imported, so that this migration does the same whatever the code does later."""

import re

import peewee as pw
from peewee_migrate import Migrator

EIGHT_DIGIT_MOBILE = re.compile(r"^\+55([1-9]{2})([6-9]\d{7})$")
TABLES = ("contact", "lead", "opt_out")


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.run(add_ninth_digits, database)


def add_ninth_digits(database: pw.Database) -> None:
    param = database.param
    for table in TABLES:
        rows = database.execute_sql(f'SELECT "id", "company_id", "phone" FROM "{table}" WHERE "phone" LIKE {param}',
                                    ["+55%"]).fetchall()
        for row_id, company_id, phone in rows:
            match = EIGHT_DIGIT_MOBILE.match(phone)
            if match is None:
                continue
            nine = f"+55{match[1]}9{match[2]}"
            database.execute_sql(
                f'UPDATE "{table}" SET "phone" = {param} WHERE "id" = {param} AND NOT EXISTS '
                f'(SELECT 1 FROM "{table}" AS "twin" WHERE "twin"."company_id" = {param} AND "twin"."phone" = {param})',
                [nine, row_id, company_id, nine])


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Nothing to undo: the numbers with nine digits are the same numbers."""
