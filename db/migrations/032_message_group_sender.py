"""032: who in a group wrote an inbound message of it: the member's phone (E.164, or WhatsApp's id of a member whose
number it hides) and the name they gave WhatsApp (push name), as the message came (`workers/inbound.py`). Empty
for every other message: a contact's chat has one writer, and ours are ours."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", sender_phone=pw.CharField(max_length=128, null=True),
                        sender_name=pw.TextField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("message", "sender_phone", "sender_name")
