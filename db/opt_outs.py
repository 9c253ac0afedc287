"""The company's opt-out list: numbers that asked for no more campaigns, scheduled messages or flows.

The list is kept by phone, so deleting and re-importing a contact does not put them back in the
audience; `Contact.opted_out_at` is its copy on the contact row (fan-out filters on it in SQL,
the contact JSON shows it). `opt_out` and `opt_in` change both in one transaction; only an
explicit `opt_in` (the API) takes a number off the list. Agents can still answer the contact.
"""

from __future__ import annotations

import peewee

from db.base import TimestampedModel, database, utcnow
from db.companies import Company
from db.contacts import Contact

OPT_OUT_SOURCES = ("keyword", "api", "import")


class OptOut(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="opt_outs", on_delete="CASCADE")
    phone = peewee.CharField(max_length=64)
    contact = peewee.ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    source = peewee.CharField(max_length=10, default="api")
    keyword = peewee.CharField(max_length=50, null=True)  # the word the contact sent, for source "keyword"
    reason = peewee.TextField(null=True)

    class Meta:
        indexes = ((("company", "phone"), True),)


def listed(company_id: int | peewee.Node, phone: str | peewee.Node) -> peewee.ModelSelect:
    """The list's row for a number (usable as a correlated EXISTS in a query over contacts)."""
    return OptOut.select(OptOut.id).where(OptOut.company == company_id, OptOut.phone == phone)


def is_opted_out(contact: Contact) -> bool:
    return contact.opted_out_at is not None or listed(contact.company_id, contact.phone).exists()


def opt_out(
    contact: Contact, *, source: str = "api", keyword: str | None = None, reason: str | None = None
) -> bool:
    """Put the contact's number on the list; True only for the call that put it there (so a reply goes once)."""
    now = utcnow()
    with database.atomic():
        added = (
            OptOut.insert(
                company=contact.company_id,
                phone=contact.phone,
                contact=contact.id,
                source=source,
                keyword=keyword,
                reason=reason,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_ignore()
            .as_rowcount()
            .execute()
        )
        Contact.update(opted_out_at=now, updated_at=now).where(
            Contact.id == contact.id, Contact.opted_out_at.is_null()
        ).execute()
    contact.opted_out_at = contact.opted_out_at or now
    return bool(added)


def opt_in(contact: Contact) -> bool:
    """Take the number off the list (an explicit request); True when it was on it."""
    with database.atomic():
        removed = (
            OptOut.delete()
            .where(OptOut.company == contact.company_id, OptOut.phone == contact.phone)
            .execute()
        )
        cleared = (
            Contact.update(opted_out_at=None, updated_at=utcnow())
            .where(Contact.id == contact.id, Contact.opted_out_at.is_null(False))
            .execute()
        )
    contact.opted_out_at = None
    return bool(removed or cleared)


def opt_out_record(contact: Contact) -> OptOut | None:
    return OptOut.get_or_none(OptOut.company == contact.company_id, OptOut.phone == contact.phone)
