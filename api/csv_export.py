"""CSV downloads streamed in batches, with cells a spreadsheet would run as formulas defused."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER_LIKE = re.compile(r"^[+-]?[\d\s().,-]*$")  # a phone or an amount stays as it is
ROWS_PER_CHUNK = 500


def safe_cell(value: Any) -> str:
    """The value as text; one a spreadsheet would take for a formula gets a leading quote (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not NUMBER_LIKE.match(text):
        return "'" + text
    return text


def csv_text(value: Any) -> Any:
    """Booleans as the imports read them back."""
    return ("true" if value else "false") if isinstance(value, bool) else value


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header, then the rows in chunks of text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(value) for value in row])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_download(filename: str, header: list[str], rows: Iterable[Iterable[Any]]) -> Response:
    """A streamed `text/csv` attachment; `rows` is read while the request's context (and database) is open."""
    return Response(
        stream_with_context(csv_lines(header, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
