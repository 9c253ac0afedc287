"""Phone numbers as WhatsApp knows them: E.164, read in the company's default country."""

from __future__ import annotations

import re

import phonenumbers

# A Brazilian mobile number without its ninth digit: area code, then eight digits from 6 to 9
BRAZILIAN_EIGHT_DIGIT_MOBILE = re.compile(r"^\+55([1-9]{2})([6-9]\d{7})$")


class InvalidPhone(ValueError):
    """The text is not a phone number that can be on WhatsApp; the message says why."""


def to_e164(raw: str, default_country: str | None = "BR") -> str:
    """`raw` in E.164; `default_country` reads a number given without its country code (None: refuse those)."""
    try:
        number = phonenumbers.parse(raw, default_country.upper() if default_country else None)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if (nine_digits := with_ninth_digit(e164)) != e164:
            number, e164 = phonenumbers.parse(nine_digits), nine_digits
    except phonenumbers.NumberParseException as error:
        raise InvalidPhone(f"not a phone number: {error}") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone("not a possible phone number for its country (wrong length)")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number for its country")
    return e164


def with_ninth_digit(e164: str) -> str:
    """A Brazilian mobile number as it has been dialled since 2016, with its ninth digit (+55 11 98765-4321); any other
    number as it is. WhatsApp still names the accounts made before by their eight digits (55 11 8765-4321): kept so,
    their messages would come from another contact than the number people type and send to (the session finds the
    account of a number either way)."""
    match = BRAZILIAN_EIGHT_DIGIT_MOBILE.match(e164)
    return f"+55{match[1]}9{match[2]}" if match else e164


def is_international(raw: str) -> bool:
    """The number carries its country code ("+..."): no default country is needed to read it."""
    return raw.lstrip().startswith("+")
