"""027: the place (`location`) or contact card (`contact_card`) a message of ours shares, as JSON text: what its
send builds WhatsApp's message from, again after a crash (its body is the place in words, or the card's vCard)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("message", location=pw.TextField(null=True), contact_card=pw.TextField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("message", "location", "contact_card")
