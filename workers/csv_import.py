"""What every CSV import shares (contacts, leads): the upload under the var directory read as a stream, rows
validated one by one, written in batches, the rejected ones kept for the errors download.

A bad row is recorded (`ImportRowError`, the first MAX_STORED_ERRORS of them) and never stops the good ones.
Each batch commits with a checkpoint in its Job row (counts and records read), so a redelivered message
resumes after the last committed batch, and one that finds its job finished returns the recorded result.
A file that cannot be read at all fails the job with the reason (ImportRejected: not retried).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from dramatiq.middleware import CurrentMessage
from email_validator import SPECIAL_USE_DOMAIN_NAMES, validate_email

from db.base import database
from db.imports import ImportRowError
from db.jobs import Job
from wharf.csv_reading import CsvFile, NotCsv, data_rows, inspect_csv
from wharf.phones import InvalidPhone, to_e164
from wharf.settings import settings
from workers.jobs import report_progress

logger = logging.getLogger(__name__)

UPLOADS_DIR = "imports"
BATCH_ROWS = 1000
SAMPLE_ERRORS = 20
MAX_STORED_ERRORS = 10_000  # rows rejected beyond these are counted as skipped, not kept


class ImportRejected(Exception):
    """The file as a whole cannot be imported: the job fails with this reason and is not retried."""


class RowInvalid(ValueError):
    """A row that cannot be imported; the message names the fields and what is wrong with them."""

    @classmethod
    def of(cls, problems: dict[str, str]) -> RowInvalid:
        return cls("; ".join(f"{name}: {problem}" for name, problem in problems.items()))


class ColumnPlan(Protocol):
    columns: dict[str, int]  # {field: column index} of the file


class RowWriter(Protocol):
    """One kind of record an import writes: how a row reads, and how a batch of read rows is stored."""

    plan: ColumnPlan

    def read(self, line: int, cells: list[str]) -> Any:
        """The record in the row at `line`; RowInvalid naming every field that is wrong."""

    def write(self, rows: list[Any]) -> tuple[int, int]:
        """Store the rows (in the caller's transaction); how many records were (created, updated)."""


def upload_path(key: str) -> Path:
    """The stored upload named `key` ("imports/<company>/<name>.csv"), never outside the uploads folder."""
    root = (settings.var_dir / UPLOADS_DIR).resolve()
    path = (settings.var_dir / key).resolve()
    if root not in path.parents:
        raise ImportRejected("the upload's name is not one of ours")
    return path


PLAIN_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                         r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def normal_email(text: str) -> str:
    """The address in lower case; EmailNotValidError says what is wrong with it.

    A plain ASCII address (most of them) is checked with a regular expression that accepts only what
    email_validator accepts, twenty times faster; anything else goes through email_validator itself.
    """
    local, _, domain = text.rpartition("@")
    plain = (len(text) <= 254 and len(local) <= 64 and PLAIN_EMAIL.match(text)
             and domain.rsplit(".", 1)[-1].lower() not in SPECIAL_USE_DOMAIN_NAMES)
    return (text if plain else validate_email(text, check_deliverability=False).normalized).lower()


def cell_reader(columns: dict[str, int], cells: list[str]) -> Callable[[str], str]:
    """`cell(field)`: the row's stripped text for a field, "" when the file has no such column."""
    def cell(name: str) -> str:
        index = columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    return cell


def read_phone(text: str, country: str, problems: dict[str, str], missing: str = "missing") -> str:
    """The cell's phone in E.164 (read in the company's `country`); "" with the problem noted under "phone"."""
    if not text:
        problems["phone"] = missing
        return ""
    try:
        return to_e164(text, country)
    except InvalidPhone as error:
        problems["phone"] = str(error)
        return ""


class PhoneRow(Protocol):
    phone: str

    def merge(self, later: Any) -> None:
        """The same phone again further down the file: its non-empty cells win."""


Row = TypeVar("Row", bound=PhoneRow)


def merged_by_phone(rows: list[Row]) -> dict[str, Row]:
    """{phone: its row}, a phone's later rows of the batch merged into its first one."""
    merged: dict[str, Row] = {}
    for row in rows:
        if row.phone in merged:
            merged[row.phone].merge(row)
        else:
            merged[row.phone] = row
    return merged


@dataclass
class BatchImport:
    """Writes one import's batches; `state` is the checkpoint kept in the job's result."""

    job_id: str
    writer: RowWriter
    state: dict[str, Any]

    def write_batch(self, records: list[tuple[int, int, list[str]]], progress: float) -> None:
        """Read, validate and store `records` ((number, line, cells)) with their checkpoint, in one transaction."""
        rows: list[Any] = []
        errors: list[dict[str, Any]] = []
        room = MAX_STORED_ERRORS - min(self.state["skipped"], MAX_STORED_ERRORS)
        for _number, line, cells in records:
            if not any(cell.strip() for cell in cells):
                continue
            try:
                rows.append(self.writer.read(line, cells))
            except RowInvalid as error:
                errors.append({"job": self.job_id, "line": line, "message": str(error), "cells": cells})
        with database.atomic():
            if rows:
                created, updated = self.writer.write(rows)
                self.state["created"] += created
                self.state["updated"] += updated
            if errors[:room]:
                ImportRowError.insert_many(errors[:room]).execute()
            self.state["skipped"] += len(errors)
            self.state["rowsRead"] = records[-1][0]
            Job.update(result=self.state).where(Job.id == self.job_id).execute()
            report_progress(progress)


def final_result(job_id: str, state: dict[str, Any]) -> dict[str, Any]:
    errors = (ImportRowError.select(ImportRowError.line, ImportRowError.message)
              .where(ImportRowError.job == job_id).order_by(ImportRowError.line).limit(SAMPLE_ERRORS))
    return {**state, "finished": True, "errors": [{"line": row.line, "message": row.message} for row in errors],
            "errorsStored": min(state["skipped"], MAX_STORED_ERRORS),
            "errorsUrl": f"/api/jobs/{job_id}/errors.csv" if state["skipped"] else None}


WriterFor = Callable[[CsvFile], RowWriter]


def open_upload(path: Path, writer_for: WriterFor) -> tuple[CsvFile, RowWriter]:
    if not path.exists():
        raise ImportRejected("the uploaded file is gone (imported already, or removed)")
    try:
        csv_file = inspect_csv(path)
        return csv_file, writer_for(csv_file)
    except ValueError as error:  # NotCsv, UnknownColumn, a mapping that names no field
        raise ImportRejected(str(error)) from None


def run_import(job_id: str, path: Path, writer_for: WriterFor, state: dict[str, Any], options: dict[str, Any]
               ) -> dict[str, Any]:
    """Read the file from where the checkpoint `state` left off (all of it for an empty state), batch by batch;
    `options` are kept in the result beside the counts."""
    csv_file, writer = open_upload(path, writer_for)
    if not state:
        columns = {name: csv_file.header[index] for name, index in writer.plan.columns.items()}
        state = {"created": 0, "updated": 0, "skipped": 0, "rowsRead": 0, "columns": columns,
                 "header": csv_file.header, "encoding": csv_file.encoding, "delimiter": csv_file.delimiter, **options}
    batches = BatchImport(job_id, writer, state)
    batch: list[tuple[int, int, list[str]]] = []
    unreadable = None
    try:
        for record in data_rows(csv_file, skip=state["rowsRead"]):
            batch.append(record)
            if len(batch) == BATCH_ROWS:
                batches.write_batch(batch, min(0.99, record[1] / csv_file.line_count))
                batch = []
    except NotCsv as error:  # the rows before the unreadable one are imported all the same
        unreadable = error
    if batch:
        batches.write_batch(batch, min(0.99, batch[-1][1] / csv_file.line_count))
    if unreadable is not None:
        raise ImportRejected(f"{unreadable}; the rows above it were imported")
    result = final_result(job_id, state)
    Job.update(result=result).where(Job.id == job_id).execute()
    return result


def import_upload(upload: str, writer_for: WriterFor, options: dict[str, Any]) -> dict[str, Any]:
    """The body of an import actor: import the stored CSV `upload` for the current job, once.

    A redelivered message resumes from the job's checkpoint, or returns the result of a finished job.
    The upload is removed once the import is finished or rejected; it stays for a retry.
    """
    message = CurrentMessage.get_current_message()
    if message is None:
        raise ImportRejected("an import runs as a job (enqueue_job)")
    job = Job.get_or_none(Job.id == message.message_id)
    if job is None:
        raise ImportRejected("the job is gone (its company was deleted?)")
    if (job.result or {}).get("finished"):
        return job.result
    path = upload_path(upload)
    try:
        result = run_import(job.id, path, writer_for, job.result or {}, options)
    except ImportRejected:
        path.unlink(missing_ok=True)
        raise
    path.unlink(missing_ok=True)
    logger.info("%s %s: %s created, %s updated, %s skipped", job.kind, job.id, result["created"], result["updated"],
                result["skipped"])
    return result
