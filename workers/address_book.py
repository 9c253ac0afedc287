"""The contacts saved on a number's phone, imported as the company's contacts (Whaticket's "import contacts from the
phone", Evolution API's findContacts): the session reads its address book, and each number becomes a contact, named
as the phone saved it.

Only the gateway holding the session can read it, so the import runs on the connection's send queue, and its counts
are the job's result. A contact the company has already keeps its name, unless it has none (a contact created by a
send or an import without a name); a number WhatsApp hides ("…@lid") makes no contact. Run twice, it creates
nothing more.
"""

from __future__ import annotations

import dramatiq

from db.base import database, utcnow
from db.bulk import insert_rows
from db.contacts import Contact
from workers.chat_actions import live_session
from workers.contact_import import CONTACT_COLUMNS
from workers.transports.base import e164_or_id

BATCH = 1000
# A contact found keeps its name unless it has none (empty, or its number as a send without a name leaves it)
NAME_UNLESS_NAMED = ('ON CONFLICT ("company_id", "phone") DO UPDATE SET "name" = CASE WHEN "contact"."name" IN '
                     '(\'\', "contact"."phone") AND excluded."name" <> \'\' THEN excluded."name" ELSE "contact"."name" '
                     'END, "updated_at" = excluded."updated_at"')


@dramatiq.actor(queue_name="gateway", max_retries=5, min_backoff=1000, max_backoff=60_000, time_limit=600_000)
def import_address_book(connection_id: int, company_id: int) -> dict:
    """The session's address book as the company's contacts; how many it held, created, named and left out."""
    entries = live_session(connection_id).address_book()
    named = {e164_or_id(entry.address): (entry.name or "")[:200] for entry in entries if "@" not in entry.address}
    created = named_now = 0
    phones = sorted(named)  # in phone order: two imports lock rows alike
    for start in range(0, len(phones), BATCH):
        book = {phone: named[phone] for phone in phones[start:start + BATCH]}
        with database.atomic():
            known = dict(Contact.select(Contact.phone, Contact.name).where(
                Contact.company == company_id, Contact.phone.in_(list(book))).tuples())
            now = utcnow()
            insert_rows("contact", CONTACT_COLUMNS,
                        [(company_id, phone, name, None, "{}", False, False, now, now) for phone, name in book.items()],
                        NAME_UNLESS_NAMED)
        created += len(book.keys() - known.keys())
        named_now += sum(1 for phone, name in known.items() if name in ("", phone) and book[phone])
    return {"connectionId": connection_id, "found": len(entries), "created": created, "named": named_now,
            "hiddenNumbers": sum(1 for entry in entries if "@" in entry.address)}
