"""A 100,000-row contact CSV imported end to end, beside the raw `insert_many` rate of the same rows and the raw
Dramatiq no-op rate (bench/baseline.py), both measured in the same run.

End to end: from `POST /api/contacts/import` (the app in this process, the file as a multipart upload) to the
job's row saying done, with `dramatiq workers` (2 processes × 8 threads, as `make run` starts them) doing
the import on PostgreSQL. The file is what a Brazilian spreadsheet exports: Latin-1, `;`, phones as
people write them, accented names, e-mails and tags. The raw rate is `Contact.insert_many` of the same
contacts (already in E.164) in batches of 1,000 into an empty table of another company, nothing else.
The same file is then imported again (every row an update, no contact created), and once more as leads
(`POST /api/leads/import`, its tags column ignored). Goal: ≤ 30 s end to end.

Run: `.venv/bin/python bench/import_contacts.py [rows]`.
"""

from __future__ import annotations

import io
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_services, wait_until, workers  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
FIRST_NAMES = ("José", "Maria", "Conceição", "João", "Antônio", "Lúcia", "Ana", "Sebastião", "Cláudia", "Zoë")
LAST_NAMES = ("Souza", "Araújo", "Gonçalves", "Simões", "Brandão", "Conceição", "Lima", "Magalhães")
TAGS = ("VIP", "clientes", "Black Friday", "Atacado", "")


def phone_as_written(n: int) -> tuple[str, str]:
    """A mobile number of São Paulo or Rio as a person types it, and its E.164 form."""
    area = 11 if n % 2 else 21
    number = f"9{n:08d}"
    written = (f"({area}) {number[:5]}-{number[5:]}", f"{area} {number}", f"+55 {area} {number}")[n % 3]
    return written, f"+55{area}{number}"


def generate(rows: int) -> tuple[bytes, list[dict]]:
    """The CSV file (Latin-1, `;`) and the same contacts as the rows `insert_many` takes."""
    random_names = random.Random(7)
    text = io.StringIO()
    text.write("Nome;Telefone;E-mail;Etiquetas\r\n")
    contacts = []
    for n in range(rows):
        name = f"{random_names.choice(FIRST_NAMES)} {random_names.choice(LAST_NAMES)}"
        written, e164 = phone_as_written(n)
        email = f"cliente{n}@exemplo.com.br"
        text.write(f"{name};{written};{email};{TAGS[n % len(TAGS)]}\r\n")
        contacts.append({"name": name, "phone": e164, "email": email, "custom_fields": {}})
    return text.getvalue().encode("latin-1"), contacts


def raw_insert_rate(company_id: int, contacts: list[dict]) -> float:
    """Rows per second of plain `insert_many` in batches of 1,000, one transaction each."""
    from db.base import database, utcnow
    from db.contacts import Contact

    now = utcnow()
    rows = [{**contact, "company": company_id, "created_at": now, "updated_at": now} for contact in contacts]
    started = time.perf_counter()
    for start in range(0, len(rows), 1000):
        with database.atomic():
            Contact.insert_many(rows[start:start + 1000]).execute()
    return len(rows) / (time.perf_counter() - started)


def wait_for_workers(company_id: int) -> None:
    """Until the worker processes run jobs (they take a moment to boot), so the clock starts with them ready."""
    from db.jobs import Job
    from workers.jobs import enqueue_job
    from workers.maintenance import prune_finished_jobs

    job = enqueue_job(prune_finished_jobs, company_id=company_id)
    wait_until(lambda: Job.get_by_id(job.id).status == "done", timeout=60)


def import_end_to_end(client, headers: dict, data: bytes, path: str = "/api/contacts/import") -> tuple[float, dict]:
    """Seconds from the POST to the job done, and the job's result."""
    from db.jobs import Job

    started = time.perf_counter()
    response = client.post(path, headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), "contatos.csv", "text/csv")})
    if response.status_code != 202:
        raise RuntimeError(f"the import answered {response.status_code}: {response.get_json()}")
    job_id = response.get_json()["jobId"]
    wait_until(lambda: Job.get_by_id(job_id).status in ("done", "failed"), timeout=600, interval=0.1)
    elapsed = time.perf_counter() - started
    job = Job.get_by_id(job_id)
    if job.status != "done":
        raise RuntimeError(f"the import failed: {job.error}")
    return elapsed, job.result


def main() -> None:
    with bench_services():
        from baseline import raw_noop_rate

        from api.app import create_app
        from api.security import issue_tokens
        from db.base import database
        from db.companies import Company
        from db.users import User
        from wharf.settings import settings

        noop = raw_noop_rate(redis_url=settings.redis_url)
        database.connect(reuse_if_open=True)
        data, contacts = generate(ROWS)
        raw = raw_insert_rate(Company.create(name="Raw insert_many").id, contacts)
        company = Company.create(name="Bench", default_country="BR")
        user = User.create(company=company, name="Bench", email="bench@example.com", password_hash="-", role="admin")
        app = create_app()
        with app.app_context():
            headers = {"Authorization": f"Bearer {issue_tokens(user)['accessToken']}"}
        running = workers().start()
        try:
            wait_for_workers(company.id)
            first = import_end_to_end(app.test_client(), headers, data)
            again = import_end_to_end(app.test_client(), headers, data)
            leads = import_end_to_end(app.test_client(), headers, data, "/api/leads/import")
        finally:
            running.stop()
        print(f"raw Dramatiq no-op rate:         {noop:9,.0f} msg/s (1 worker process, 8 threads)")
        print(f"raw insert_many, same rows:      {raw:9,.0f} rows/s ({ROWS / raw:5.1f} s for {ROWS:,})")
        for label, (elapsed, result) in (("import end to end (POST → done)", first), ("the same file again", again),
                                         ("the same file as leads", leads)):
            print(f"{label + ':':32} {ROWS / elapsed:9,.0f} rows/s ({elapsed:5.1f} s for {ROWS:,}; "
                  f"{ROWS / elapsed / raw:.2f} × raw; goal ≤ 30 s)")
            print(f"  created {result['created']:,}, updated {result['updated']:,}, skipped {result['skipped']:,}; "
                  f"{len(data) / 1e6:.1f} MB, {result['encoding']}, {result['delimiter']!r}")


if __name__ == "__main__":
    main()
