"""Phone numbers as WhatsApp knows them: E.164, read in the company's default country."""

from __future__ import annotations

import phonenumbers


class InvalidPhone(ValueError):
    """The text is not a phone number that can be on WhatsApp; the message says why."""


def to_e164(raw: str, default_country: str | None = "BR") -> str:
    """`raw` in E.164; `default_country` reads a number given without its country code (None: refuse those)."""
    try:
        number = phonenumbers.parse(raw, default_country.upper() if default_country else None)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(f"not a phone number: {error}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone("not a possible phone number for its country (wrong length)")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_international(raw: str) -> bool:
    """The number carries its country code ("+..."): no default country is needed to read it."""
    return raw.lstrip().startswith("+")
