"""A million pending schedules: the scheduler's dispatch lateness and its idle CPU.

A million schedules wait (due tomorrow and later); `DUE` more fall due over `DUE_SECONDS`, spread
evenly. `wharf scheduler` (the real process) claims and queues them; a schedule's lateness is its
run's record (written with its message, in the transaction that claims it) minus its `send_at`.
Then, nothing due, the scheduler's CPU over `IDLE_SECONDS` (from /proc). Printed beside the raw
Dramatiq no-op rate of the same run.

Run: `.venv/bin/python bench/schedules.py [pending, default 1000000]`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bench_services, wait_until  # noqa: E402

from tests.processes import scheduler  # noqa: E402

PENDING = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
DUE = 300
DUE_SECONDS = 30
LEAD_SECONDS = 10  # the first due schedule, after the scheduler has started
IDLE_SECONDS = 30


def wait_in_bulk(company_id: int, connection_id: int, contact_id: int) -> None:
    """PENDING schedules due from tomorrow on, one statement."""
    from db.base import database

    database.execute_sql(
        "INSERT INTO schedule (created_at, updated_at, company_id, connection_id, contact_id, body, send_at, "
        "timezone, status, run_count) "
        "SELECT now(), now(), %s, %s, %s, 'later', now() + interval '1 day' + g * interval '1 second', 'UTC', "
        "'pending', 0 FROM generate_series(1, %s) g",
        (company_id, connection_id, contact_id, PENDING),
    )
    database.execute_sql("ANALYZE schedule")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    with bench_services():
        from baseline import raw_noop_rate

        from db.base import database, utcnow
        from db.companies import Company
        from db.connections import Connection
        from db.contacts import Contact
        from db.schedules import Schedule, ScheduleRun
        from wharf.settings import settings

        raw = raw_noop_rate(redis_url=settings.redis_url)
        database.connect(reuse_if_open=True)
        company = Company.create(name="Bench")
        connection = Connection.create(company=company, name="bench", transport="simulator")
        contact = Contact.create(company=company, name="Ana", phone="+5511987654321")
        started = time.perf_counter()
        wait_in_bulk(company.id, connection.id, contact.id)
        print(f"{PENDING:,} pending schedules written in {time.perf_counter() - started:.1f} s")

        program = scheduler().start()
        try:
            import datetime as dt

            first_due = utcnow() + dt.timedelta(seconds=LEAD_SECONDS)
            Schedule.insert_many(
                [
                    {
                        "company": company,
                        "connection": connection,
                        "contact": contact,
                        "body": f"due {n}",
                        "send_at": first_due + dt.timedelta(seconds=n * DUE_SECONDS / DUE),
                        "created_at": utcnow(),
                        "updated_at": utcnow(),
                    }
                    for n in range(DUE)
                ]
            ).execute()
            wait_until(
                lambda: ScheduleRun.select().count() == DUE,
                timeout=LEAD_SECONDS + DUE_SECONDS + 60,
                interval=0.5,
            )
            time.sleep(2)  # past the last tick that had work
            before, idle_started = cpu_seconds(program.popen.pid), time.perf_counter()
            time.sleep(IDLE_SECONDS)
            idle_cpu = (cpu_seconds(program.popen.pid) - before) / (time.perf_counter() - idle_started)
        finally:
            program.stop()
        lateness = sorted((run.created_at - run.due_at).total_seconds() for run in ScheduleRun.select())
        p50, p99 = statistics.median(lateness), lateness[int(len(lateness) * 0.99) - 1]
        print(f"raw Dramatiq no-op rate:              {raw:8,.0f} msg/s")
        print(
            f"dispatch lateness, {DUE} due among {PENDING:,} pending: p50 {p50 * 1000:4.0f} ms, "
            f"p99 {p99 * 1000:4.0f} ms, max {lateness[-1] * 1000:4.0f} ms (goal p99 ≤ 1 s)"
        )
        print(
            f"scheduler idle CPU with {PENDING:,} pending: {idle_cpu:.2%} of one core over {IDLE_SECONDS} s"
        )


if __name__ == "__main__":
    main()
