"""Contact import end to end: the upload through the API, a real worker, PostgreSQL.

A bad row never stops the good ones, a re-run creates nothing, a redelivered message does no harm,
and a file that cannot be imported is a 4xx at once (or a failed job with the reason).
"""

from __future__ import annotations

import csv
import io
import json
from functools import partial

import pytest

from db.contact_lists import ContactListItem
from db.contacts import Contact, ContactTag, Tag
from db.imports import ImportRowError
from db.jobs import Job
from tests.workers.import_helpers import no_uploads, on_sqlite, run_imports, upload_and_import, upload_csv  # noqa: F401
from workers import contact_import, csv_import
from workers.jobs import enqueue_job, resend_job

LATIN1_CSV = (
    "Nome;Telefone;E-mail;Etiquetas\r\n"
    "José Antônio;(11) 98765-4321;jose@exemplo.com.br;VIP, Clientes\r\n"
    "Conceição;11 91234-5678;;clientes\r\n"
    "Sem telefone;;semtel@exemplo.com;\r\n"
    ";;;\r\n"
    "Número errado;12345;errado@exemplo.com;\r\n"
    "E-mail ruim;21 99876-5432;não é e-mail;\r\n"
).encode("latin-1")


post_csv = partial(upload_csv, path="/api/contacts/import")
imported = partial(upload_and_import, path="/api/contacts/import")


@pytest.fixture
def admin(factories):
    return factories.user(company=factories.company(default_country="BR"))


@pytest.fixture
def headers(app, factories, admin):
    return factories.auth_headers(app, admin)


def test_a_latin1_semicolon_file_imports_its_good_rows_and_lists_the_bad_ones(client, headers, admin, broker, worker,
                                                                              var_dir):
    job = imported(client, headers, broker, worker, LATIN1_CSV)

    assert job.status == "done" and job.progress == 1.0, job.error
    result = job.result
    assert (result["created"], result["updated"], result["skipped"]) == (2, 0, 3)
    assert (result["encoding"], result["delimiter"]) == ("cp1252", ";")
    assert result["columns"] == {"name": "Nome", "phone": "Telefone", "email": "E-mail", "tags": "Etiquetas"}
    assert [error["line"] for error in result["errors"]] == [4, 6, 7]
    assert "phone: missing" in result["errors"][0]["message"]
    assert "phone: not a possible phone number" in result["errors"][1]["message"]
    assert result["errors"][2]["message"].startswith("email:")
    assert result["errorsUrl"] == f"/api/jobs/{job.id}/errors.csv"
    jose = Contact.get(Contact.phone == "+5511987654321")
    assert (jose.company_id, jose.name, jose.email) == (admin.company_id, "José Antônio", "jose@exemplo.com.br")
    assert sorted(tag.name for tag in Tag.select()) == ["Clientes", "VIP"]  # "clientes" is the same tag
    assert ContactTag.select().count() == 3
    assert not list((var_dir / "imports").rglob("*.csv")), "the upload is removed once imported"


def test_the_errors_download_has_each_bad_row_with_its_line_reason_and_cells(client, headers, broker, worker):
    job = imported(client, headers, broker, worker, LATIN1_CSV)

    response = client.get(f"/api/jobs/{job.id}/errors.csv", headers=headers)

    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["line", "error", "Nome", "Telefone", "E-mail", "Etiquetas"]
    assert [row[0] for row in rows[1:]] == ["4", "6", "7"]
    assert rows[2][2:] == ["Número errado", "12345", "errado@exemplo.com", ""]


def test_every_bad_row_is_counted_and_the_first_ones_are_kept(client, headers, broker, worker, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_STORED_ERRORS", 3)
    monkeypatch.setattr(csv_import, "BATCH_ROWS", 2)
    data = "telefone;nome\n+5511987654321;Ana\n" + "".join(f"bad{n};Bad {n}\n" for n in range(5))

    job = imported(client, headers, broker, worker, data.encode())

    assert (job.result["created"], job.result["skipped"], job.result["errorsStored"]) == (1, 5, 3)
    assert [error["line"] for error in job.result["errors"]] == [3, 4, 5]
    rows = list(csv.reader(io.StringIO(client.get(f"/api/jobs/{job.id}/errors.csv", headers=headers)
                                       .get_data(as_text=True))))
    assert [row[0] for row in rows[1:]] == ["3", "4", "5"]


def test_the_same_file_again_updates_and_creates_nothing(client, headers, broker, worker):
    imported(client, headers, broker, worker, LATIN1_CSV)

    again = imported(client, headers, broker, worker, LATIN1_CSV)

    assert (again.result["created"], again.result["updated"], again.result["skipped"]) == (0, 2, 3)
    assert Contact.select().count() == 2
    assert ContactTag.select().count() == 3 and Tag.select().count() == 2


def test_a_utf8_comma_file_as_a_raw_body_with_a_mapping_custom_fields_and_a_list(client, factories, headers, admin,
                                                                                broker, worker):
    factories.contact_field(admin.company, "plan")
    factories.contact_field(admin.company, "spent", "number")
    factories.contact_field(admin.company, "since", "date", label="Cliente desde")
    factories.contact_field(admin.company, "vip", "boolean")
    customers = factories.contact_list(admin.company)
    data = ("\ufeffFull name,Cell,Plan,spent,Cliente desde,VIP?\n"
            'Zoë Ünal,+44 7911 123456,Gold,"1.234,56",31/12/2020,sim\n'
            "Ana,(21) 99876-5432,,12,2021-01-02,não\n"
            "Bad,21 98888-7777,,lots,2021-13-40,talvez\n").encode()
    mapping = json.dumps({"name": "full name", "phone": "Cell", "vip": "VIP?"})

    job = imported(client, headers, broker, worker, data, f"?listId={customers.id}&mapping={mapping}", as_form=False)

    assert job.status == "done", job.error
    assert (job.result["created"], job.result["skipped"], job.result["encoding"]) == (2, 1, "utf-8-sig")
    message = job.result["errors"][0]["message"]
    assert "spent:" in message and "since:" in message and "vip:" in message
    zoe = Contact.get(Contact.phone == "+447911123456")
    assert zoe.name == "Zoë Ünal"
    assert zoe.custom_fields == {"plan": "Gold", "spent": 1234.56, "since": "2020-12-31", "vip": True}
    assert Contact.get(Contact.phone == "+5521998765432").custom_fields == {"spent": 12, "since": "2021-01-02",
                                                                            "vip": False}
    assert ContactListItem.select().where(ContactListItem.contact_list == customers).count() == 2


def test_empty_cells_never_erase_and_a_phone_twice_in_the_file_is_one_contact(client, factories, headers, admin,
                                                                              broker, worker):
    factories.contact_field(admin.company, "plan")
    known = factories.contact(admin.company, name="Known Name", phone="+5511987654321", email="known@x.com",
                              custom_fields={"plan": "Gold"})
    theirs = factories.contact(factories.company(), name="Other company", phone="+5511912345678")
    data = (b"phone;name;email;plan\n"
            b"+5511987654321;;;\n"
            b"11 91234-5678;First;first@x.com;Basic\n"
            b"(11) 91234-5678;Second;;\n")

    job = imported(client, headers, broker, worker, data)

    assert (job.result["created"], job.result["updated"]) == (1, 2)
    kept = Contact.get_by_id(known.id)
    assert (kept.name, kept.email, kept.custom_fields) == ("Known Name", "known@x.com", {"plan": "Gold"})
    twice = Contact.get(Contact.company == admin.company, Contact.phone == "+5511912345678")
    assert (twice.name, twice.email, twice.custom_fields) == ("Second", "first@x.com", {"plan": "Basic"})
    assert Contact.get_by_id(theirs.id).name == "Other company"


def test_progress_is_reported_batch_by_batch(client, headers, broker, worker, monkeypatch):
    monkeypatch.setattr(csv_import, "BATCH_ROWS", 100)
    reported: list[float] = []
    original = csv_import.report_progress
    monkeypatch.setattr(csv_import, "report_progress", lambda fraction: (reported.append(fraction),
                                                                            original(fraction)))
    data = "telefone\n" + "".join(f"+55119{n:08d}\n" for n in range(1050))

    job = imported(client, headers, broker, worker, data.encode())

    assert job.result["created"] == 1050 and Contact.select().count() == 1050
    assert len(reported) == 11
    assert reported == sorted(reported) and 0 < reported[0] < 0.2 and reported[-1] == 0.99
    assert job.progress == 1.0


def test_a_redelivered_message_of_a_finished_import_changes_nothing(client, headers, broker, worker):
    job = imported(client, headers, broker, worker, LATIN1_CSV)

    resend_job(broker, job)
    run_imports(broker, worker)

    again = Job.get_by_id(job.id)
    assert (again.status, again.result) == ("done", job.result)
    assert Contact.select().count() == 2 and ImportRowError.select().count() == 3


def test_a_redelivery_after_a_crash_resumes_after_the_last_committed_batch(client, headers, broker, monkeypatch):
    from tests.conftest import running_worker

    data = "telefone;nome\n" + "".join(f"+55119{n:08d};Contact {n}\n" for n in range(30))
    response = post_csv(client, headers, data.encode())
    job_id = response.get_json()["jobId"]
    # As the worker that crashed left it: the first 20 records committed, with their checkpoint.
    checkpoint = {"created": 20, "updated": 0, "skipped": 0, "rowsRead": 20, "columns": {"phone": "telefone"},
                  "header": ["telefone", "nome"], "encoding": "utf-8", "delimiter": ";", "listId": None}
    Job.update(result=checkpoint, status="running").where(Job.id == job_id).execute()

    with running_worker(broker):
        broker.join("imports", timeout=30_000)

    job = Job.get_by_id(job_id)
    assert job.status == "done"
    assert (job.result["created"], job.result["rowsRead"]) == (30, 30)
    assert sorted(c.name for c in Contact.select()) == sorted(f"Contact {n}" for n in range(20, 30))


def test_an_unreadable_line_fails_the_job_with_the_reason_after_importing_the_rows_above(client, headers, broker,
                                                                                      worker, var_dir):
    data = "telefone;nome\n+5511987654321;Ana\n+5511912345678;Bia\n\"+5521998765432;Unclosed quote\n"
    data += "".join(f"+55119{n:08d};filler {n:0100d}\n" for n in range(1500))  # the quoted field outgrows the limit

    job = imported(client, headers, broker, worker, data.encode())

    assert job.status == "failed"
    assert "not readable CSV" in job.error and "field larger than field limit" in job.error
    assert "the rows above it were imported" in job.error
    assert sorted(c.name for c in Contact.select()) == ["Ana", "Bia"]
    assert job.result["created"] == 2
    assert not list((var_dir / "imports").rglob("*.csv"))


@pytest.mark.parametrize("data, field, message", [
    (b"", "file", "the file is empty"),
    (b"\n\n  \n", "file", "the file is empty"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00binary", "file", "not text"),
    ("\ufeffNome;Telefone".encode("utf-16"), "file", "UTF-16"),
    (b"nome;telefone\n", "file", "no rows"),
    (b"nome;cidade\nAna;Recife\n", "mapping", "no phone column"),
])
def test_a_file_that_cannot_be_imported_is_a_400_at_once_and_not_kept(client, headers, broker, var_dir, data, field,
                                                                       message):
    response = post_csv(client, headers, data)

    assert response.status_code == 400
    assert message in response.get_json()["details"][field]
    assert Job.select().count() == 0
    assert not list((var_dir / "imports").rglob("*.csv"))


def test_a_mapping_must_name_columns_of_the_file_and_fields_of_a_contact(client, headers):
    data = b"Nome;Fone\nAna;+5511987654321\n"

    missing = post_csv(client, headers, data, form={"mapping": json.dumps({"phone": "Celular"})})
    unknown = post_csv(client, headers, data, form={"mapping": json.dumps({"shoe": "Nome"})})
    not_json = post_csv(client, headers, data, "?mapping={phone")

    assert missing.status_code == unknown.status_code == not_json.status_code == 400
    assert "no column 'Celular'" in missing.get_json()["details"]["mapping"]
    assert "not fields of a contact: shoe" in unknown.get_json()["details"]["mapping"]
    assert "mapping" in not_json.get_json()["details"]


def test_an_oversize_upload_is_a_413_and_another_type_a_415(client, headers, app, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    big = b"telefone\n" + b"+5511987654321\n" * 500

    too_big = post_csv(client, headers, big)
    too_big_raw = post_csv(client, headers, big, as_form=False)
    as_json = client.post("/api/contacts/import", headers=headers, json={"phone": "+5511987654321"})

    assert too_big.status_code == too_big_raw.status_code == 413
    assert as_json.status_code == 415
    assert Job.select().count() == 0


def test_another_company_s_list_is_a_404_and_nothing_is_queued(client, headers, factories):
    foreign = factories.contact_list(factories.company())

    response = post_csv(client, headers, LATIN1_CSV, f"?listId={foreign.id}")

    assert response.status_code == 404
    assert Job.select().count() == 0


def test_the_same_idempotency_key_queues_one_import(client, headers, broker):
    keyed = {**headers, "Idempotency-Key": "import-1"}

    first = post_csv(client, keyed, LATIN1_CSV, as_form=False)
    second = post_csv(client, keyed, LATIN1_CSV, as_form=False)

    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json()
    assert Job.select().count() == 1


@pytest.mark.parametrize("role, allowed", [("admin", True), ("supervisor", True), ("agent", False)])
def test_admins_and_supervisors_import_and_agents_may_not(client, factories, app, broker, role, allowed):
    user = factories.user(role=role)

    response = post_csv(client, factories.auth_headers(app, user), LATIN1_CSV)

    assert response.status_code == (202 if allowed else 403)


def test_the_errors_of_another_company_s_import_or_of_another_job_are_a_404(client, factories, app, headers, broker,
                                                                           worker):
    job = imported(client, headers, broker, worker, LATIN1_CSV)
    stranger = factories.auth_headers(app, factories.user())
    other_job = enqueue_job(contact_import.import_contacts, 0, "imports/none.csv", {}, None,
                            company_id=Job.get_by_id(job.id).company_id)
    run_imports(broker, worker)

    assert client.get(f"/api/jobs/{job.id}/errors.csv", headers=stranger).status_code == 404
    assert Job.get_by_id(other_job.id).status == "failed"
    assert "gone" in Job.get_by_id(other_job.id).error
    assert client.get(f"/api/jobs/{other_job.id}/errors.csv", headers=headers).status_code == 404


def test_an_export_imports_again_as_it_is(client, factories, headers, admin, broker, worker):
    factories.contact_field(admin.company, "spent", "number")
    vip = factories.tag(admin.company, name="VIP")
    ana = factories.contact(admin.company, name="Ana", phone="+5511987654321", email="ana@x.com",
                            custom_fields={"spent": 10.5})
    ContactTag.create(contact=ana, tag=vip)
    exported = client.get("/api/contacts/export", headers=headers).get_data()
    Contact.delete().execute()

    job = imported(client, headers, broker, worker, exported)

    assert job.result["created"] == 1 and job.result["skipped"] == 0
    again = Contact.get(Contact.phone == "+5511987654321")
    assert (again.name, again.email, again.custom_fields) == ("Ana", "ana@x.com", {"spent": 10.5})
    assert [link.tag_id for link in again.tag_links] == [vip.id]


@pytest.mark.parametrize("address", ["a@b.co", "X@Exemplo.com.BR", "user+tag@sub.domain.org", "a@b.c", "a..b@x.com",
                                     "a@x.test", "a@localhost", "zoë@exemplo.com", "a@-x.com", "não é e-mail",
                                     "a@x_y.com", "a@" + "x" * 64 + ".com"])
def test_the_plain_address_shortcut_agrees_with_email_validator(address):
    from email_validator import EmailNotValidError, validate_email

    try:
        expected = validate_email(address, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        expected = None

    try:
        found = csv_import.normal_email(address)
    except EmailNotValidError:
        found = None

    assert found == expected


def test_the_batch_upsert_runs_on_sqlite_too(tmp_path):
    """`make run`'s default database: the same statements, with json_patch and `?` placeholders."""
    from db.companies import Company
    from db.contact_lists import ContactList
    from db.contacts import ContactField
    with on_sqlite(tmp_path):
        company = Company.create(name="SQLite")
        ContactField.create(company=company, key="plan", label="Plan", type="text")
        customers = ContactList.create(company=company, name="Customers")
        Job.create(id="sqlite-job", company=company, kind="import_contacts", message={})
        plan = contact_import.ImportPlan({"phone": 0, "name": 1, "tags": 2, "plan": 3}, {"plan": "text"}, "BR")
        state = {"created": 0, "updated": 0, "skipped": 0, "rowsRead": 0}
        importer = csv_import.BatchImport("sqlite-job", contact_import.ContactWriter(company.id, customers.id, plan),
                                          state)

        importer.write_batch([(1, 2, ["+5511987654321", "Ana", "VIP", "Gold"]),
                              (2, 3, ["11 91234-5678", "", "a|b", ""]), (3, 4, ["bad", "", "", ""])], 0.5)
        Contact.update(custom_fields={"plan": "Gold", "other": 1}).where(Contact.phone == "+5511912345678").execute()
        importer.write_batch([(4, 5, ["+5511987654321", "", "vip", ""]),
                              (5, 6, ["+5511912345678", "Bia", "", "Silver"])], 0.9)

        assert (state["created"], state["updated"], state["skipped"], state["rowsRead"]) == (2, 2, 1, 5)
        contacts = {c.phone: (c.name, c.custom_fields, sorted(link.tag.name for link in c.tag_links))
                    for c in Contact.select()}
        assert contacts == {"+5511987654321": ("Ana", {"plan": "Gold"}, ["VIP"]),
                            "+5511912345678": ("Bia", {"plan": "Silver", "other": 1}, ["a", "b"])}
        assert ContactListItem.select().count() == 2 and ImportRowError.select().count() == 1
