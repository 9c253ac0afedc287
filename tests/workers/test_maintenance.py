"""Housekeeping: finished jobs, idempotency keys, uploads and connection history past their time are deleted,
the rest kept; media files nothing refers to are deleted."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid

import pytest

from db.base import utcnow
from db.connection_events import ConnectionEvent, record_connection_status
from db.jobs import Job
from db.messages import QuickMessage
from tests.workers.import_helpers import on_sqlite
from wharf.media import media_store
from wharf.settings import settings
from workers.csv_import import UPLOADS_DIR
from workers.maintenance import CONNECTION_HISTORY, prune_finished_jobs, prune_orphan_media


def job(company, status: str, finished_days_ago: int | None) -> Job:
    finished = None if finished_days_ago is None else utcnow() - dt.timedelta(days=finished_days_ago)
    return Job.create(id=str(uuid.uuid4()), company=company, kind="import_contacts", status=status,
                      finished_at=finished, message={})


def upload(company, days_old: int):
    path = settings.var_dir / UPLOADS_DIR / str(company.id) / f"{uuid.uuid4().hex}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("name;phone\n")
    stamp = (utcnow() - dt.timedelta(days=days_old)).replace(tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_pruning_deletes_what_is_past_the_retention_and_keeps_the_rest(database, factories):
    company = factories.company()
    days = settings.job_retention_days
    old_done, old_failed = job(company, "done", days + 1), job(company, "failed", days + 1)
    recent_done, old_queued = job(company, "done", days - 1), job(company, "queued", None)
    old_upload, recent_upload = upload(company, days + 1), upload(company, days - 1)

    pruned = prune_finished_jobs.fn()

    assert pruned["jobs"] == 2 and pruned["uploads"] == 1
    kept = {row.id for row in Job.select(Job.id)}
    assert {recent_done.id, old_queued.id} <= kept and not {old_done.id, old_failed.id} & kept
    assert recent_upload.exists() and not old_upload.exists()


def media_file(company, days_old: float) -> str:
    key = media_store().save(company.id, b"%PDF-1.4", "application/pdf")
    stamp = (utcnow() - dt.timedelta(days=days_old)).replace(tzinfo=dt.UTC).timestamp()
    os.utime(media_store().path(key), (stamp, stamp))
    return key


def test_media_nothing_refers_to_is_deleted_once_a_day_old(database, factories):
    company = factories.company()
    ticket = factories.ticket(company)
    sent, quick, picture, own, orphan, fresh_orphan = (media_file(company, days) for days in (3, 3, 3, 3, 3, 0.5))
    factories.message(ticket, direction="out", media_path=sent)
    QuickMessage.create(company=company, shortcut="/menu", body="Cardápio", media_path=quick)
    factories.contact(company, profile_pic_path=picture)
    factories.connection(company, profile_picture_path=own)  # the number's own WhatsApp picture
    factories.message(ticket, direction="out", media_path="https://example.com/a.pdf")

    assert prune_orphan_media.fn() == 1

    assert [media_store().path(key).exists() for key in (sent, quick, picture, own, orphan, fresh_orphan)] == [
        True, True, True, True, False, True]


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_old_connection_history_goes_but_the_status_it_ended_in_stays(database, factories, engine, tmp_path):
    with on_sqlite(tmp_path) if engine == "sqlite" else contextlib.nullcontext():
        connection = factories.connection(factories.company())
        assert_history_pruned(connection)


def assert_history_pruned(connection) -> None:
    long_ago = utcnow() - CONNECTION_HISTORY - dt.timedelta(days=10)
    for days, status in ((0, "connected"), (1, "disconnected"), (2, "connected")):  # all past the history kept
        record_connection_status(connection.id, status, long_ago + dt.timedelta(days=days))
    record_connection_status(connection.id, "disconnected", utcnow() - dt.timedelta(days=1))

    pruned = prune_finished_jobs.fn()

    kept = [(e.status, e.at) for e in ConnectionEvent.select().order_by(ConnectionEvent.at)]
    assert pruned["connectionEvents"] == 2
    assert [status for status, _ in kept] == ["connected", "disconnected"]  # what it was when the history begins
    assert kept[0][1] == long_ago + dt.timedelta(days=2)
