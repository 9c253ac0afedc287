"""What the import tests share (contacts and leads): posting a CSV to an import route, waiting for the real
worker to finish the job, and a SQLite database for the batch writers (`make run`'s default)."""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.jobs import Job


@pytest.fixture(autouse=True)
def no_uploads(var_dir):
    """Each test starts without stored uploads (a test that queues a job without a worker leaves its upload)."""
    shutil.rmtree(var_dir / "imports", ignore_errors=True)


def run_imports(broker, worker) -> None:
    broker.join("imports", timeout=30_000)
    worker.join()


def upload_csv(client, headers, data: bytes, query: str = "", as_form: bool = True, form: dict | None = None, *,
               path: str):
    """POST the CSV to the import `path`: as the multipart field `file` (with the `form`'s fields), or as a raw body."""
    if as_form:
        payload = {"file": (io.BytesIO(data), "planilha.csv", "text/csv"), **(form or {})}
        return client.post(f"{path}{query}", headers=headers, data=payload, content_type="multipart/form-data")
    return client.post(f"{path}{query}", headers=headers, data=data, content_type="text/csv")


def upload_and_import(client, headers, broker, worker, data: bytes, query: str = "", *, path: str, **options) -> Job:
    """The job of the import, once the worker has run it."""
    response = upload_csv(client, headers, data, query, path=path, **options)
    assert response.status_code == 202, response.get_json()
    run_imports(broker, worker)
    return Job.get_by_id(response.get_json()["jobId"])


@contextlib.contextmanager
def on_sqlite(folder: Path) -> Iterator[None]:
    """The models bound to a new SQLite database with every migration, for the length of the block."""
    from db.base import database, make_database
    from db.migrate import upgrade

    previous = database.obj
    sqlite = make_database(f"sqlite:///{folder / 'wharf.db'}")
    upgrade(sqlite)
    database.initialize(sqlite)
    try:
        yield
    finally:
        sqlite.close_all()
        database.initialize(previous)
