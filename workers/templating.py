"""Text with variables, as one pure function shared by quick messages, campaigns and flows, and the variables a
ticket gives (`ticket_variables`).

`{{name}}` is replaced by the variable's value; a variable that is missing or empty becomes its
fallback, `{{firstName|there}}` → "there", or nothing, and then takes the space before it along
unless a word follows ("Olá {{firstName}}!" → "Olá!", not "Olá !"). Names match case-insensitively
and may have spaces inside the braces (`{{ agent }}`). Braces that are not a variable stay as they are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from db.companies import Company

if TYPE_CHECKING:
    from db.tickets import Ticket

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*(?:\|([^{}]*))?\}\}")
_SPACED_VARIABLE = re.compile(r"( ?)" + _VARIABLE.pattern)  # with the space before it, if any


def render_template(text: str, variables: Mapping[str, Any]) -> str:
    """`text` with each `{{var}}` / `{{var|fallback}}` replaced; never raises for a missing variable."""
    values = {str(key).casefold(): value for key, value in variables.items()}

    def substitute(match: re.Match[str]) -> str:
        space, name, fallback = match.groups()
        value = values.get(name.casefold())
        if value is None or value == "":
            value = (fallback or "").strip()
        if not value and not match.string[match.end():match.end() + 1].isalnum():
            space = ""
        return space + str(value)

    return _SPACED_VARIABLE.sub(substitute, text)


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


def ticket_variables(ticket: Ticket, agent: str) -> dict[str, str]:
    """The standard template variables of a ticket: its contact, its queue, the agent, the company's local time."""
    contact = ticket.contact
    company = Company.get_by_id(ticket.company_id)
    return standard_variables(
        name=contact.name, phone=contact.phone, email=contact.email or "", agent=agent,
        queue=ticket.queue.name if ticket.queue_id else "",
        now=dt.datetime.now(ZoneInfo(company.timezone)).replace(tzinfo=None),
    )
