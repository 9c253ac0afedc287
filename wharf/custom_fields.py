"""Typed values of contacts' custom fields: what the API takes as JSON, and what an import reads from text.

Stored forms: text → str, number → int or float, date → "YYYY-MM-DD", boolean → bool.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

MAX_TEXT = 1000
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "sim", "s", "verdadeiro", "x"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "não", "nao", "falso"})
NUMBER = re.compile(r"^[+-]?(\d+|\d{1,3}([.,\s]\d{3})+)?([.,]\d+)?$")  # grouped thousands, then decimals


class InvalidValue(ValueError):
    """The value does not fit the field's type; the message says what would."""


def check_value(kind: str, value: Any) -> Any:
    """A JSON value for a field of type `kind`, in its stored form."""
    if kind == "text" and isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise InvalidValue(f"at most {MAX_TEXT} characters")
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InvalidValue("a finite number")
        return value
    if kind == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise InvalidValue("a date as YYYY-MM-DD") from None
    if kind == "boolean" and isinstance(value, bool):
        return value
    expected = {"text": "a string", "number": "a number", "date": "a date as YYYY-MM-DD", "boolean": "true or false"}
    raise InvalidValue(f"must be {expected[kind]}")


def checked_values(types: dict[str, str], values: dict[str, Any],
                   unknown: str = "no such custom field") -> tuple[dict[str, Any], dict[str, str]]:
    """`values` in their stored forms by their fields' `types` ({key: type}), null meaning "remove"; and what is wrong
    with the others ({key: why}): an unknown key (`unknown` says so), a misfit value."""
    checked: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, value in values.items():
        if key not in types:
            problems[key] = unknown
        elif value is None:
            checked[key] = None
        else:
            try:
                checked[key] = check_value(types[key], value)
            except InvalidValue as error:
                problems[key] = str(error)
    return checked, problems


def without_removed(current: dict[str, Any] | None, checked: dict[str, Any]) -> dict[str, Any]:
    """A record's custom fields (`current`) after a checked change: null takes a field away, the others stay."""
    merged = {**(current or {}), **checked}
    return {key: value for key, value in merged.items() if value is not None}


def ordered(left: str, right: str) -> int | None:
    """How a value compares with another, both as text: -1, 0 or 1 as numbers when both are (1,5 and 1.5 alike), else
    as dates when both are (YYYY-MM-DD); None when they are neither."""
    for read in (lambda text: float(text.strip().replace(",", ".")), lambda text: dt.date.fromisoformat(text.strip())):
        try:
            a, b = read(left), read(right)
        except ValueError:
            continue
        return (a > b) - (a < b)
    return None


def parse_text(kind: str, raw: str) -> Any:
    """A spreadsheet cell for a field of type `kind`, in its stored form; None for an empty cell."""
    text = raw.strip()
    if not text:
        return None
    if kind == "text":
        return check_value(kind, text)
    if kind == "number":
        return parse_number(text)
    if kind == "date":
        return parse_date(text)
    word = text.casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidValue(f"{raw!r} is not yes/no, true/false, sim/não or 1/0")


def parse_number(text: str) -> int | float:
    """1234, -1.5, 1234,5, 1.234,56, 1,234.56 or 1.234.567. The last `.` or `,` is the decimal mark unless it
    occurs twice or more (then all are thousands separators); the other mark separates thousands. So 1,5 and
    1.5 are both one and a half, as spreadsheets in Brazil and elsewhere write them."""
    if not NUMBER.match(text) or not any(char.isdigit() for char in text):
        raise InvalidValue(f"{text!r} is not a number")
    compact = text.replace(" ", "")
    marks = [char for char in compact if char in ".,"]
    if not marks or marks.count(marks[-1]) > 1:
        return int(compact.replace(".", "").replace(",", ""))
    whole, fraction = compact.rsplit(marks[-1], 1)
    return float(whole.replace(".", "").replace(",", "") + "." + fraction)


def parse_date(text: str) -> str:
    """YYYY-MM-DD, or DD/MM/YYYY as written in Brazil and Portugal."""
    for layout in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, layout).date().isoformat()
        except ValueError:
            continue
    raise InvalidValue(f"{text!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)")
