"""036: campaigns and schedules that send their audio as a voice note (`voice_note`: its mediaUrl made Ogg/Opus
when fetched, wharf/voice_notes.py), as POST /api/messages does with `voiceNote`."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("campaign", voice_note=pw.BooleanField(default=False))
    migrator.add_fields("schedule", voice_note=pw.BooleanField(default=False))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("campaign", "voice_note")
    migrator.remove_fields("schedule", "voice_note")
