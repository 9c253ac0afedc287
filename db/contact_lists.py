"""Contact lists: named sets of a company's contacts, the audience of a campaign."""

import peewee

from db.base import BaseModel, TimestampedModel, utcnow
from db.companies import Company
from db.contacts import Contact


class ContactList(TimestampedModel):
    company = peewee.ForeignKeyField(Company, backref="contact_lists", on_delete="CASCADE")
    name = peewee.CharField(max_length=100)

    class Meta:
        indexes = ((("company", "name"), True),)


class ContactListItem(BaseModel):
    """A contact in a list, once: adding it again changes nothing."""

    contact_list = peewee.ForeignKeyField(ContactList, backref="items", on_delete="CASCADE")
    contact = peewee.ForeignKeyField(Contact, backref="list_items", on_delete="CASCADE")
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("contact_list", "contact"), True),)
