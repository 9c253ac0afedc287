"""Text with variables, as one pure function shared by quick messages, campaigns and flows.

`{{name}}` is replaced by the variable's value; a variable that is missing or empty becomes its
fallback, `{{firstName|there}}` → "there", or nothing. Names match case-insensitively and may
have spaces inside the braces (`{{ agent }}`). Braces that are not a variable stay as they are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*(?:\|([^{}]*))?\}\}")


def render_template(text: str, variables: Mapping[str, Any]) -> str:
    """`text` with each `{{var}}` / `{{var|fallback}}` replaced; never raises for a missing variable."""
    values = {str(key).casefold(): value for key, value in variables.items()}

    def substitute(match: re.Match[str]) -> str:
        value = values.get(match.group(1).casefold())
        if value is None or value == "":
            return (match.group(2) or "").strip()
        return str(value)

    return _VARIABLE.sub(substitute, text)


def template_variables(text: str) -> set[str]:
    """The variable names `text` uses, as written."""
    return {match.group(1) for match in _VARIABLE.finditer(text)}


def standard_variables(
    *,
    name: str = "",
    phone: str = "",
    email: str = "",
    agent: str = "",
    queue: str = "",
    protocol: str = "",
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """The variables every message template may use, from a contact's and a ticket's plain values.

    `now` is local time already (the company's timezone); `date` is YYYY-MM-DD and `time` HH:MM.
    """
    parts = name.split()
    values = {
        "name": name,
        "firstName": parts[0] if parts else "",
        "lastName": parts[-1] if len(parts) > 1 else "",
        "phone": phone,
        "email": email,
        "agent": agent,
        "queue": queue,
        "protocol": protocol,
    }
    if now is not None:
        values.update(date=now.strftime("%Y-%m-%d"), time=now.strftime("%H:%M"))
    return values
