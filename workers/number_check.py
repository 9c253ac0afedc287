"""Which numbers are on WhatsApp (Evolution API's `whatsappNumbers`), asked of a connection's session.

Only the gateway holding the session can ask, so the check runs on the connection's send queue like the
chat actions, after the sends waiting there; numbers go to WhatsApp `CHECK_CHUNK` at a time. The answers are
the job's result and are kept on the company's contacts with those numbers (`Contact.on_whatsapp`), which
campaigns read to skip the numbers that are not. Asking again asks WhatsApp again: the actor is idempotent.
"""

from __future__ import annotations

import dramatiq

from db.base import database, utcnow
from db.bulk import execute_with_values
from db.contacts import Contact
from workers.chat_actions import live_session

CHECK_CHUNK = 50  # numbers per question to WhatsApp, as WhatsApp Web asks


@dramatiq.actor(queue_name="gateway", max_retries=5, min_backoff=1000, max_backoff=60_000, time_limit=300_000)
def check_numbers(connection_id: int, company_id: int, phones: list[str]) -> dict:
    """Ask WhatsApp about `phones` (E.164), keep the answers on the company's contacts, and return them."""
    session = live_session(connection_id)
    digits = [phone.lstrip("+") for phone in phones]
    answers: dict[str, bool] = {}
    for start in range(0, len(digits), CHECK_CHUNK):
        answers |= session.on_whatsapp(digits[start:start + CHECK_CHUNK])
    found = {f"+{number}": answers.get(number) for number in digits}  # None: WhatsApp did not say
    record_on_whatsapp(company_id, {phone: on for phone, on in found.items() if on is not None})
    return {"connectionId": connection_id,
            "numbers": [{"phone": phone, "onWhatsapp": on} for phone, on in found.items()],
            "onWhatsapp": sum(on is True for on in found.values()),
            "notOnWhatsapp": sum(on is False for on in found.values())}


def record_on_whatsapp(company_id: int, found: dict[str, bool]) -> None:
    """Keep what WhatsApp said of each number (E.164) on the company's contact with it, if there is one."""
    if not found:
        return
    checked_at = Contact.whatsapp_checked_at.db_value(utcnow())
    with database.atomic():
        execute_with_values(
            f'UPDATE "contact" SET "on_whatsapp" = v.column2, "whatsapp_checked_at" = v.column3 FROM (VALUES %s) AS v '
            f'WHERE "contact"."company_id" = {int(company_id)} AND "contact"."phone" = v.column1',
            [(phone, on_whatsapp, checked_at) for phone, on_whatsapp in found.items()])
