"""Reading the CSV files people export from spreadsheets and phones.

The encoding is UTF-8 (with or without a BOM) when the whole file decodes as UTF-8, else Windows-1252
(what Excel calls "ANSI"), else Latin-1. The delimiter is whichever of `;` `,` tab `|` the header line
holds most (a one-column file is fine). Headers are matched to fields by `auto_mapping`, in Portuguese
or English, without regard to case, accents or punctuation ("E-mail", "Nº Celular").
"""

from __future__ import annotations

import codecs
import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 1 << 20
DELIMITERS = (";", ",", "\t", "|")
HEADER_ALIASES = {
    "name": ("nome", "name", "nomecompleto", "fullname", "contato", "contact", "cliente", "customer"),
    "phone": ("telefone", "phone", "celular", "whatsapp", "whats", "numero", "number", "ncelular", "fone", "tel",
              "mobile", "cell", "cellphone", "phonenumber", "telefonecelular", "numerodetelefone", "telefone1"),
    "email": ("email", "mail", "emailaddress", "enderecodeemail", "correioeletronico"),
    "tags": ("tags", "tag", "etiquetas", "etiqueta", "marcadores", "labels"),
}


class NotCsv(ValueError):
    """The file cannot be read as a CSV; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class CsvFile:
    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    line_count: int  # physical lines, to tell how far a reader has come


def normal_header(text: str) -> str:
    """"Nº Celular " → "ncelular": lower case, no accents, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9]", "", "".join(char for char in decomposed if not unicodedata.combining(char)))


def detect_encoding(path: Path) -> tuple[str, int]:
    """The file's encoding and its number of lines, in one pass; NotCsv for an empty or binary file."""
    decoders = {name: codecs.getincrementaldecoder(name)() for name in ("utf-8", "cp1252")}
    lines = 0
    with path.open("rb") as stream:
        first = stream.read(CHUNK_BYTES)
        if not first.strip():
            raise NotCsv("the file is empty")
        if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise NotCsv("the file is UTF-16 text; save it as CSV UTF-8 or CSV (semicolon or comma separated)")
        if b"\x00" in first:
            raise NotCsv("the file is not text (a spreadsheet or another binary file?); save it as CSV")
        chunk = first
        while chunk:
            lines += chunk.count(b"\n")
            for name, decoder in list(decoders.items()):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    del decoders[name]
            chunk = stream.read(CHUNK_BYTES)
    for name, decoder in list(decoders.items()):
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            del decoders[name]
    if "utf-8" in decoders:
        return ("utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"), lines + 1
    return ("cp1252" if "cp1252" in decoders else "latin-1"), lines + 1


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most, outside quotes; `,` for a one-column file."""
    unquoted = re.sub(r'"[^"]*"', "", header_line)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def inspect_csv(path: Path) -> CsvFile:
    """Encoding, delimiter and header of a CSV; NotCsv when it has no header or no row under it."""
    encoding, line_count = detect_encoding(path)
    with path.open(encoding=encoding, newline="") as text:
        first_line = next((line for line in text if line.strip()), "")
        delimiter = sniff_delimiter(first_line)
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = [cell.strip() for cell in next(reader, [])]
            has_rows = any(any(cell.strip() for cell in row) for row in reader)
        except csv.Error as error:
            raise NotCsv(f"the file is not a readable CSV: {error}") from None
    if not any(header):
        raise NotCsv("the file has no header line")
    if not has_rows:
        raise NotCsv("the file has a header but no rows")
    return CsvFile(path, encoding, delimiter, header, line_count)


def data_rows(csv_file: CsvFile, skip: int = 0) -> Iterator[tuple[int, int, list[str]]]:
    """(record number, line number, cells) for each record under the header, from record `skip` on.

    Records count from 1 and include blank ones, so a reader that stopped after record N resumes with
    `skip=N`. csv.Error (a NUL byte, a field over the size limit) is raised as NotCsv.
    """
    with csv_file.path.open(encoding=csv_file.encoding, newline="") as text:
        reader = csv.reader(text, delimiter=csv_file.delimiter)
        try:
            next(reader, None)
            for number, cells in enumerate(reader, start=1):
                if number > skip:
                    yield number, reader.line_num, cells
        except csv.Error as error:
            raise NotCsv(f"line {reader.line_num} is not readable CSV: {error}") from None


def auto_mapping(header: list[str], extra: dict[str, Iterable[str]] | None = None) -> dict[str, int]:
    """{field: column index} for the headers that name a field; `extra` adds fields and their names
    (a company's custom fields by key and label). The first column that matches a field wins."""
    names = {field: {normal_header(alias) for alias in aliases} for field, aliases in HEADER_ALIASES.items()}
    for field, aliases in (extra or {}).items():
        names.setdefault(field, set()).update(normal_header(alias) for alias in aliases)
    mapping: dict[str, int] = {}
    for index, title in enumerate(header):
        normal = normal_header(title)
        for field, aliases in names.items():
            if field not in mapping and index not in mapping.values() and normal in aliases:
                mapping[field] = index
    return mapping


class UnknownColumn(ValueError):
    """A mapping names a column the file does not have."""

    def __init__(self, field: str, title: str, header: list[str]) -> None:
        super().__init__(f"no column {title!r} in the file (its columns: {', '.join(header)})")
        self.field = field


def column_mapping(header: list[str], explicit: dict[str, str], extra: dict[str, Iterable[str]] | None = None
                   ) -> dict[str, int]:
    """{field: column index}: the `explicit` {field: column title} first, then what `auto_mapping` finds in
    the other columns."""
    first_index = {normal_header(title): index for index, title in reversed(list(enumerate(header)))}
    chosen: dict[str, int] = {}
    for field, title in explicit.items():
        index = first_index.get(normal_header(title))
        if index is None:
            raise UnknownColumn(field, title, header)
        chosen[field] = index
    guessed = auto_mapping(header, extra)
    taken = set(chosen.values())
    return chosen | {field: index for field, index in guessed.items() if field not in chosen and index not in taken}
