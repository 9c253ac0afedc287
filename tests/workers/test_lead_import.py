"""Lead import end to end: the upload through the API, a real worker, PostgreSQL.

Leads are matched by phone: a re-run creates nothing, an empty cell keeps what a lead has, a bad row never
stops the good ones; words, amounts and dates as Brazilian spreadsheets write them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from functools import partial

import pytest

from db.imports import ImportRowError
from db.jobs import Job
from db.leads import Lead
from tests.workers.import_helpers import no_uploads, on_sqlite, run_imports, upload_and_import, upload_csv  # noqa: F401
from workers import lead_import

LATIN1_CSV = (
    "Nome;Telefone;E-mail;Empresa;Status;Origem;Temperatura;Valor;Observações;Retorno\r\n"
    "José Antônio;(11) 98765-4321;Jose@Exemplo.com.br;Souza Ltda;Ganho;Indicação;quente;1.234,56;quer demo;"
    "31/12/2030 14:00\r\n"
    "Conceição;11 91234-5678;;;novo;site;frio;;;2030-01-02\r\n"
    "Sem telefone;;semtel@exemplo.com;;;;;;;\r\n"
    ";;;;;;;;;\r\n"
    "Status ruim;21 99876-5432;;;talvez;;;muito;;32/13/2030\r\n"
).encode("latin-1")


post_csv = partial(upload_csv, path="/api/leads/import")
imported = partial(upload_and_import, path="/api/leads/import")


@pytest.fixture
def admin(factories):
    return factories.user(company=factories.company(default_country="BR", timezone="America/Sao_Paulo"))


@pytest.fixture
def headers(app, factories, admin):
    return factories.auth_headers(app, admin)


def test_a_latin1_semicolon_file_imports_its_good_rows_and_lists_the_bad_ones(client, factories, headers, admin,
                                                                              broker, worker, var_dir):
    contact = factories.contact(admin.company, phone="+5511987654321")

    job = imported(client, headers, broker, worker, LATIN1_CSV)

    assert job.status == "done" and job.progress == 1.0, job.error
    assert job.kind == "import_leads"
    result = job.result
    assert (result["created"], result["updated"], result["skipped"]) == (2, 0, 2)
    assert result["columns"] == {"name": "Nome", "phone": "Telefone", "email": "E-mail", "company_name": "Empresa",
                                 "status": "Status", "source": "Origem", "category": "Temperatura", "value": "Valor",
                                 "notes": "Observações", "next_follow_up_at": "Retorno"}
    assert [error["line"] for error in result["errors"]] == [4, 6]
    assert "phone: missing" in result["errors"][0]["message"]
    bad = result["errors"][1]["message"]
    assert "status: 'talvez' is not one of new, contacted" in bad
    assert "value: 'muito' is not a number" in bad and "next_follow_up_at:" in bad
    jose = Lead.get(Lead.phone == "+5511987654321")
    assert (jose.company_id, jose.name, jose.email, jose.company_name) == (admin.company_id, "José Antônio",
                                                                           "jose@exemplo.com.br", "Souza Ltda")
    assert (jose.status, jose.source, jose.category, jose.value) == ("won", "referral", "hot", Decimal("1234.56"))
    assert jose.notes == "quer demo" and jose.won_at is not None
    assert jose.next_follow_up_at == dt.datetime(2030, 12, 31, 17, 0)  # 14:00 in São Paulo
    assert (jose.owner_id, jose.created_by_id, jose.contact_id) == (admin.id, admin.id, contact.id)
    ana = Lead.get(Lead.phone == "+5511912345678")
    assert (ana.status, ana.source, ana.category, ana.value, ana.won_at) == ("new", "website", "cold", 0, None)
    assert ana.next_follow_up_at == dt.datetime(2030, 1, 2, 3, 0) and ana.contact_id is None
    assert not list((var_dir / "imports").rglob("*.csv")), "the upload is removed once imported"


def test_the_same_file_again_updates_and_creates_nothing(client, headers, broker, worker):
    first = imported(client, headers, broker, worker, LATIN1_CSV)
    won_at = Lead.get(Lead.phone == "+5511987654321").won_at

    again = imported(client, headers, broker, worker, LATIN1_CSV)

    assert (again.result["created"], again.result["updated"], again.result["skipped"]) == (0, 2, 2)
    assert Lead.select().count() == 2
    assert Lead.get(Lead.phone == "+5511987654321").won_at == won_at, "still won since the first import"
    assert ImportRowError.select().where(ImportRowError.job == first.id).count() == 2


def test_empty_cells_keep_what_a_lead_has_and_a_status_change_moves_won_at(client, factories, headers, admin,
                                                                            broker, worker):
    other_owner = factories.user(company=admin.company)
    known = factories.lead(admin.company, name="Known", phone="+5511987654321", email="known@x.com", status="won",
                           won_at=dt.datetime(2020, 1, 1), value=Decimal("10"), owner=other_owner, notes="keep")
    winning = factories.lead(admin.company, name="Winning", phone="+5511912345678", status="proposal")
    theirs = factories.lead(factories.company(), name="Other company", phone="+5511987654321")
    data = (b"telefone;nome;email;status;valor\n"
            b"+5511987654321;;;lost;\n"
            b"11 91234-5678;;;ganho;99\n"
            b"(11) 91234-5678;Winner;w@x.com;;\n")

    job = imported(client, headers, broker, worker, data)

    assert (job.result["created"], job.result["updated"], job.result["skipped"]) == (0, 3, 0)
    kept = Lead.get_by_id(known.id)
    assert (kept.name, kept.email, kept.value, kept.notes) == ("Known", "known@x.com", Decimal("10"), "keep")
    assert (kept.status, kept.won_at, kept.owner_id) == ("lost", None, other_owner.id)
    won = Lead.get_by_id(winning.id)
    assert (won.name, won.email, won.status, won.value) == ("Winner", "w@x.com", "won", Decimal("99"))
    assert won.won_at is not None
    assert Lead.get_by_id(theirs.id).name == "Other company"


def test_a_raw_body_with_a_mapping_and_a_lead_without_a_name_named_by_its_phone(client, headers, broker, worker):
    data = "Cel,Razão social,Valor estimado\n+44 7911 123456,Acme,\"1,234.50\"\n".encode()
    mapping = json.dumps({"phone": "cel", "companyName": "Razão social", "value": "Valor estimado"})

    job = imported(client, headers, broker, worker, data, f"?mapping={mapping}", as_form=False)

    assert job.status == "done" and job.result["created"] == 1, job.error
    lead = Lead.get()
    assert (lead.name, lead.phone, lead.company_name, lead.value) == ("+447911123456", "+447911123456", "Acme",
                                                                     Decimal("1234.50"))


def test_the_errors_download_has_each_bad_row_with_its_line_reason_and_cells(client, headers, broker, worker):
    job = imported(client, headers, broker, worker, LATIN1_CSV)

    response = client.get(f"/api/jobs/{job.id}/errors.csv", headers=headers)

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == ["line", "error", "Nome", "Telefone"]
    assert [row[0] for row in rows[1:]] == ["4", "6"]
    assert rows[2][2:5] == ["Status ruim", "21 99876-5432", ""]


@pytest.mark.parametrize("data, query, field, message", [
    (b"nome;cidade\nAna;Recife\n", "", "mapping", "no phone column (leads are matched by phone)"),
    (b"nome;telefone\nAna;+5511987654321\n", '?mapping={"tags": "nome"}', "mapping", "not fields of a lead: tags"),
    (b"", "", "file", "the file is empty"),
])
def test_a_file_that_cannot_be_imported_is_a_400_at_once_and_not_kept(client, headers, broker, var_dir, data, query,
                                                                       field, message):
    response = post_csv(client, headers, data, query)

    assert response.status_code == 400
    assert message in response.get_json()["details"][field]
    assert Job.select().count() == 0
    assert not list((var_dir / "imports").rglob("*.csv"))


@pytest.mark.parametrize("role, permissions, status", [
    ("admin", {}, 202),
    ("supervisor", {}, 202),
    ("agent", {}, 403),
    ("supervisor", {"leads": {"view": True, "add": True, "edit": False}}, 403),
    ("supervisor", {"leads": {"view": True, "add": False, "edit": True}}, 403),
    ("supervisor", {"leads": {"view": True, "add": True, "edit": True}}, 202),
])
def test_admins_and_supervisors_who_may_add_and_edit_leads_import_them(client, factories, app, broker, role,
                                                                       permissions, status):
    user = factories.user(role=role, permissions=permissions)

    response = post_csv(client, factories.auth_headers(app, user), LATIN1_CSV)

    assert response.status_code == status, response.get_json()
    assert Job.select().count() == (1 if status == 202 else 0)


def test_a_program_imports_leads_with_leads_write_and_follows_its_job(client, factories, admin, broker, worker):
    writer = {"X-API-Key": factories.api_key(admin.company, ["leads:write"])}
    contacts_only = {"X-API-Key": factories.api_key(admin.company, ["contacts:write"])}

    refused = post_csv(client, contacts_only, LATIN1_CSV)
    job = imported(client, writer, broker, worker, LATIN1_CSV)

    assert refused.status_code == 403
    assert Lead.select().count() == 2 and job.user_id is None and Lead.get().owner_id is None
    assert client.get(f"/api/jobs/{job.id}", headers=writer).get_json()["status"] == "done"
    assert client.get(f"/api/jobs/{job.id}/errors.csv", headers=writer).status_code == 200
    assert client.get(f"/api/jobs/{job.id}/errors.csv", headers=contacts_only).status_code == 403


def test_a_redelivered_message_of_a_finished_import_changes_nothing(client, headers, broker, worker):
    from workers.jobs import resend_job

    job = imported(client, headers, broker, worker, LATIN1_CSV)
    Lead.update(status="lost").execute()

    resend_job(broker, job)
    run_imports(broker, worker)

    again = Job.get_by_id(job.id)
    assert (again.status, again.result) == ("done", job.result)
    assert [lead.status for lead in Lead.select()] == ["lost", "lost"]
    assert ImportRowError.select().count() == 2


def test_the_batch_upsert_runs_on_sqlite_too(tmp_path):
    """`make run`'s default database: the same statements with `?` placeholders."""
    from db.companies import Company
    from db.contacts import Contact
    from workers.csv_import import BatchImport
    with on_sqlite(tmp_path):
        company = Company.create(name="SQLite", timezone="America/Sao_Paulo")
        contact = Contact.create(company=company, phone="+5511912345678")
        Job.create(id="sqlite-job", company=company, kind="import_leads", message={})
        plan = lead_import.plan_lead_import(company.id, ["telefone", "nome", "status", "valor", "retorno"], {})
        state = {"created": 0, "updated": 0, "skipped": 0, "rowsRead": 0}
        importer = BatchImport("sqlite-job", lead_import.LeadWriter(company.id, None, plan), state)

        importer.write_batch([(1, 2, ["+5511987654321", "Ana", "ganho", "1.234,56", "02/01/2030"]),
                              (2, 3, ["11 91234-5678", "", "", "", ""]), (3, 4, ["bad", "", "", "", ""])], 0.5)
        importer.write_batch([(4, 5, ["+5511987654321", "", "perdido", "", ""]),
                              (5, 6, ["+5511912345678", "Bia", "", "7", ""])], 0.9)

        assert (state["created"], state["updated"], state["skipped"], state["rowsRead"]) == (2, 2, 1, 5)
        leads = {lead.phone: (lead.name, lead.status, lead.value, lead.won_at, lead.next_follow_up_at, lead.contact_id)
                 for lead in Lead.select()}
        assert leads == {"+5511987654321": ("Ana", "lost", Decimal("1234.56"), None, dt.datetime(2030, 1, 2, 3, 0),
                                            None),
                         "+5511912345678": ("Bia", "new", Decimal("7"), None, None, contact.id)}


@pytest.mark.parametrize("text, expected", [
    ("2030-01-02", dt.datetime(2030, 1, 2, 3, 0)),
    ("02/01/2030", dt.datetime(2030, 1, 2, 3, 0)),
    ("02/01/2030 09:30", dt.datetime(2030, 1, 2, 12, 30)),
    ("2030-01-02T09:30:00Z", dt.datetime(2030, 1, 2, 9, 30)),
    ("2030-01-02 09:30:00+01:00", dt.datetime(2030, 1, 2, 8, 30)),
])
def test_follow_up_dates_are_read_in_the_company_s_timezone_unless_they_say_otherwise(text, expected):
    assert lead_import.parse_moment(text, "America/Sao_Paulo") == expected


@pytest.mark.parametrize("text, expected", [
    ("1.234,56", Decimal("1234.56")), ("1,234.56", Decimal("1234.56")), ("99", Decimal("99.00")),
    ("0,005", Decimal("0.01")), ("-5", None), ("1" + "0" * 40, None), ("muito", None),
])
def test_amounts_are_read_as_spreadsheets_write_them_and_kept_in_cents(text, expected):
    from wharf.custom_fields import InvalidValue

    try:
        found = lead_import.parse_value(text)
    except InvalidValue:
        found = None

    assert found == expected
