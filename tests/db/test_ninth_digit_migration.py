"""043: contacts, leads and opt-outs stored with a Brazilian mobile's eight digits get its ninth; one whose nine-digit
twin is there already stays as it is."""

from __future__ import annotations

import pytest

from db.migrate import _router
from tests.db.conftest import migrated_to
from tests.db.test_idempotency_key_migration import a_company

MIGRATION = "043_brazilian_ninth_digit"
NOW = "2024-05-01 12:00:00"


@pytest.fixture(params=["postgresql", "sqlite"])
def migrated_to_042(request, tmp_path):
    with migrated_to("042_macros", request.param, tmp_path) as database:
        yield database


def insert(database, table: str, **columns) -> None:
    names = ", ".join(f'"{name}"' for name in columns)
    placeholders = ", ".join([database.param] * len(columns))
    database.execute_sql(f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})', list(columns.values()))


def phones(database, table: str) -> list[str]:
    return [phone for (phone,) in database.execute_sql(f'SELECT "phone" FROM "{table}" ORDER BY "id"').fetchall()]


def test_eight_digit_mobiles_get_their_ninth_digit_unless_their_twin_is_there(migrated_to_042):
    database = migrated_to_042
    company_id = a_company(database)
    contact = {"company_id": company_id, "is_group": False, "blocked": False, "custom_fields": "{}", "created_at": NOW,
               "updated_at": NOW}
    for phone, name in [("+551187654321", "old"), ("+551134567890", "landline"), ("+5521987654321", "twin"),
                        ("+552187654321", "twin's old"), ("+14155550100", "abroad")]:
        insert(database, "contact", name=name, phone=phone, **contact)
    insert(database, "lead", company_id=company_id, name="Lead", phone="+556187654321", company_name="", status="new",
           source="manual", category="warm", value=0, notes="", created_at=NOW, updated_at=NOW)
    insert(database, "opt_out", company_id=company_id, phone="+551187654321", source="api", created_at=NOW,
           updated_at=NOW)

    assert _router(database).run(MIGRATION) == [MIGRATION]

    assert phones(database, "contact") == ["+5511987654321", "+551134567890", "+5521987654321", "+552187654321",
                                           "+14155550100"]
    assert phones(database, "lead") == ["+5561987654321"]
    assert phones(database, "opt_out") == ["+5511987654321"]
