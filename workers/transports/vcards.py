"""Contact cards received as vCards (`ContactCard.vcard` writes ours): read back into a `ContactCard` when they name
a number we can message.

WhatsApp's clients write vCard 3.0 with the number twice, `TEL;type=CELL;waid=5511987654321:+55 11 98765-4321`:
`waid` is the WhatsApp account in digits, the value the number as the sender's address book has it (iPhones group
it, `item1.TEL;waid=...`). Other apps' cards may have no `waid`, several TELs, folded lines, or no number at all.
"""

from __future__ import annotations

import re

from wharf.phones import InvalidPhone, is_international, to_e164
from workers.transports.base import ContactCard

# A content line: an optional group ("item1."), the property's name, its parameters, its value.
CONTENT_LINE = re.compile(r"(?:[\w-]+\.)?(?P<name>[\w-]+)(?P<parameters>(?:;[^:]*)?):(?P<value>.*)")
FOLDED = re.compile(r"\r?\n[ \t]")  # a line that goes on in the next one, which starts with a space or a tab


def unescaped(value: str) -> str:
    """A vCard text value as written (`vcard_text` in reverse): `\\n` a line break, `\\,` `\\;` `\\\\` the character."""
    return re.sub(r"\\(.)", lambda match: "\n" if match.group(1) in "nN" else match.group(1), value)


def card_phone(parameters: str, value: str) -> str | None:
    """A TEL's number in E.164: its `waid` (WhatsApp's own, always in full), else its value when it carries its
    country code; None when neither is a number (a local number's country is the sender's, which we do not know)."""
    for parameter in parameters.split(";"):
        name, _, digits = parameter.partition("=")
        if name.strip().lower() == "waid" and digits.strip().isdigit():
            return "+" + digits.strip()
    if not is_international(value):
        return None
    try:
        return to_e164(value, None)
    except InvalidPhone:
        return None


def contact_card_from_vcard(vcard: str, display_name: str = "") -> ContactCard | None:
    """The card a vCard describes: its formatted name (FN; else `display_name`, WhatsApp's name for the card; else
    the number) and the number of its first TEL that has one; None when no TEL does."""
    name, phone = "", None
    for line in FOLDED.sub("", vcard).splitlines():
        match = CONTENT_LINE.fullmatch(line.strip())
        if match is None:
            continue
        kind = match["name"].upper()
        if kind == "FN" and not name:
            name = unescaped(match["value"]).strip()
        elif kind == "TEL" and phone is None:
            phone = card_phone(match["parameters"], match["value"])
    if phone is None:
        return None
    return ContactCard(name or display_name.strip() or phone, phone)
